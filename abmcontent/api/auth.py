"""Who is calling: a personal API token in `Authorization: Bearer …`, never the session cookie.

A token acts as its user, so every call is checked against the user's role as the UI would
be; a read token cannot change anything. Because the API never reads the session cookie, a
page on another site cannot make a signed-in browser call it (no CSRF surface).
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps

from flask import abort, current_app, g, request
from flask_babel import gettext as _

from abmcontent import api_tokens, rate_limits
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


def _too_many(decision: rate_limits.Decision):
    return problem(429, _("Too many calls. Wait %(n)s seconds and try again.",
                          n=dict(rate_limits.headers(decision)).get("Retry-After", "1")),
                   headers=dict(rate_limits.headers(decision)))


def authenticate():
    """before_request of every API blueprint: a problem response, or None to go on.

    Calls without a valid token are counted per client address (only the failures), calls with
    one against the token's read or write budget; every answer says what is left."""
    app = current_app._get_current_object()
    address = request.remote_addr or ""
    refused = rate_limits.peek(app, "api_denied", address)
    if not refused.allowed:
        return _too_many(refused)
    token = api_tokens.authenticate(bearer_secret(), _now())
    if token is None:
        rate_limits.hit(app, "api_denied", address)
        return problem(401, _("Send a valid API token in the Authorization header: Bearer abm_…. "
                              "Create one under Integrations → API tokens."),
                       headers={"WWW-Authenticate": 'Bearer realm="abmcontent", Basic realm="abmcontent"'})
    needed = "read" if request.method in READ_METHODS else "write"
    if not api_tokens.allows(token, needed):
        return problem(403, _("This token can only read. Create a token with write access to make changes."))
    decision = rate_limits.hit(app, f"api_{needed}", f"token:{token.id}")
    if not decision.allowed:
        return _too_many(decision)
    g.api_token = token
    g.api_user = token.user
    g.api_rate = decision
    return None


def rate_headers(response):
    """after_request of every API blueprint: the token's remaining budget on every answer."""
    decision = g.get("api_rate")
    if decision is not None:
        for name, value in rate_limits.headers(decision):
            response.headers.setdefault(name, value)
    return response


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
