"""Who is calling: a personal API token in `Authorization: Bearer …`, never the session cookie.

A token acts as its user, so every call is checked against the user's role as the UI would
be; a read token cannot change anything. Because the API never reads the session cookie, a
page on another site cannot make a signed-in browser call it (no CSRF surface).
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps

from flask import abort, g, request
from flask_babel import gettext as _

from abmcontent import api_tokens
from abmcontent.api.problems import problem
from abmcontent.models import ApiToken, User

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def bearer_secret() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.password or ""  # mail providers that only send basic auth
    return ""


def authenticate():
    """before_request of every API blueprint: a problem response, or None to go on."""
    token = api_tokens.authenticate(bearer_secret(), _now())
    if token is None:
        return problem(401, _("Send a valid API token in the Authorization header: Bearer abm_…. "
                              "Create one under Integrations → API tokens."),
                       headers={"WWW-Authenticate": 'Bearer realm="abmcontent"'})
    needed = "read" if request.method in READ_METHODS else "write"
    if not api_tokens.allows(token, needed):
        return problem(403, _("This token can only read. Create a token with write access to make changes."))
    g.api_token = token
    g.api_user = token.user
    return None


def current_token() -> ApiToken:
    return g.api_token


def current_user() -> User:
    return g.api_user


def roles(*allowed: str):
    """The calling user needs one of these roles (admin always passes), as in the UI."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not g.api_user.has_role(*allowed):
                abort(403, _("Your role does not allow this."))
            return view(*args, **kwargs)
        return wrapped
    return decorator
