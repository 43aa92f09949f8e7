"""Landing pages built from sections, shown to prospects personalized for their account and role."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime, utcnow
from abmcontent.models.users import User


class LandingPage(db.Model):
    __tablename__ = "landing_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))           # the page's name in the admin and <title>
    language: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft, published, archived
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    sections: Mapped[list["LandingSection"]] = relationship(
        back_populates="page", cascade="all, delete-orphan", order_by="LandingSection.position")
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])


class LandingSection(db.Model):
    """One block of a page; what it holds depends on its kind (see abmcontent.landing.SECTION_KINDS)."""

    __tablename__ = "landing_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("landing_pages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(30))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)

    page: Mapped[LandingPage] = relationship(back_populates="sections")
