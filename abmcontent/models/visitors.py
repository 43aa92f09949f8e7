"""Personalized URLs: tokens that identify a target account (and maybe a contact) to a landing page."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.accounts import Account, Contact
from abmcontent.models.base import UTCDateTime, utcnow
from abmcontent.models.landing import LandingPage  # noqa: F401 (relationship target)


class PersonalUrl(db.Model):
    """Only the token's SHA-256 is stored: a leaked database does not leak working links."""

    __tablename__ = "personal_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # the token's first characters, to tell links apart
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # the page the copyable URL opens; the token itself identifies the visitor on any page
    landing_page_id: Mapped[int | None] = mapped_column(ForeignKey("landing_pages.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()
    contact: Mapped[Contact | None] = relationship()
    landing_page: Mapped["LandingPage | None"] = relationship()
