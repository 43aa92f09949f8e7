"""Personal API tokens: a user's key for the JSON API, stored only as a hash."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime
from abmcontent.models.users import User

TOKEN_SCOPES = ("read", "write")


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10))  # read, write (write includes read)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so people can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256: the token has 256 random bits
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
