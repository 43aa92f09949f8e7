"""Personal API tokens: created by a user for themself, shown once, stored as a SHA-256 hash.

A token acts as its user: every API call is checked against the user's role as the UI would be,
and a read token cannot change anything. The secret has 256 random bits, so a fast hash is
enough (as GitHub and Stripe do); the lookup is by hash, then compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import TOKEN_SCOPES, ApiToken, User

PREFIX = "abm_"
# last_used_at is written at most this often, so a busy integration does not write on every call
TOUCH_EVERY = timedelta(minutes=1)
MAX_NAME = 100


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown to its owner once, never stored


def create(user_id: int, name: str, scope: str, now: datetime, expires_in_days: int | None = None) -> NewToken:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(_("No such user."))
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the token a name, such as the tool that will use it.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("Use at most %(n)d characters.", n=MAX_NAME)]
    if scope not in TOKEN_SCOPES:
        errors["scope"] = [_("Choose read or write access.")]
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        errors["expires_in_days"] = [_("A token can last from 1 day to 10 years.")]
    if errors:
        raise ValidationError(errors)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, scope=scope, prefix=secret[:12], token_hash=_digest(secret),
                     created_at=now,
                     expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
    db.session.add(token)
    db.session.commit()
    return NewToken(token=token, secret=secret)


def authenticate(secret: str, now: datetime) -> ApiToken | None:
    """The live token for this secret, or None (unknown, revoked, expired, or its user deactivated)."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    digest = _digest(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token


def allows(token: ApiToken, scope: str) -> bool:
    return token.scope == "write" or scope == "read"


def tokens_of(user_id: int) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(),
                                             ApiToken.id.desc())))


def revoke(token_id: int, by: User | None, now: datetime) -> ApiToken:
    """A user revokes their own tokens; an admin anyone's (someone left the company); `by` None is
    the operator at the server's command line."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(_("That token does not exist."))
    if by is not None and token.user_id != by.id and by.role != "admin":
        raise PermissionDenied(_("You can only revoke your own tokens."))
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.commit()
    return token


def status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"
