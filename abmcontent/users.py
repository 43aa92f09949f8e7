"""People who use abmcontent and what they may do."""
from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import ROLES, User

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$")
MIN_PASSWORD = 10
# Hash compared when the email is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, role: str, password: str, now: datetime, name: str = "",
                phone: str = "") -> User:
    email = normalise_email(email)
    errors: dict[str, list[str]] = {}
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = [_("Enter a valid email address.")]
    elif db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        errors["email"] = [_("A user with this email already exists.")]
    if role not in ROLES:
        errors["role"] = [_("Role must be one of: %(roles)s.", roles=", ".join(ROLES))]
    if len(password) < MIN_PASSWORD:
        errors["password"] = [_("Use a password of at least %(n)d characters.", n=MIN_PASSWORD)]
    if errors:
        raise ValidationError(errors)
    user = User(email=email, role=role, name=name.strip(), phone=phone.strip(),
                password_hash=generate_password_hash(password), created_at=now)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    db.session.commit()
