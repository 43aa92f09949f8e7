"""Whole page or fragment from one URL, and the role check every view shares."""
from __future__ import annotations

from functools import wraps

from flask import abort, make_response, render_template
from flask_login import current_user, login_required

from abmcontent.extensions import htmx


def page_or_fragment(page_template: str, fragment: str, status: int = 200, **context):
    """The fragment for an htmx swap, the whole page otherwise (boosts and history restores)."""
    wants_fragment = bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    response = make_response(render_template(fragment if wants_fragment else page_template, **context), status)
    response.vary.add("HX-Request")
    return response


def roles_required(*roles: str):
    """Login required, and one of roles (admin always passes)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator
