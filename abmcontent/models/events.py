"""Events the plans invite stakeholders to, and each invitee's registration and attendance.

An Event keeps one iCalendar UID for life; ``sequence`` goes up on every change an invitee must
hear about (time, place, link, cancellation), and a registration remembers the sequence it was
last sent, so updates and cancellations reach everyone once (RFC 5546: REQUEST, CANCEL).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.accounts import Account, Contact
from abmcontent.models.base import UTCDateTime, utcnow

EVENT_STATUSES = ("scheduled", "cancelled")
REGISTRATION_STATUSES = ("invited", "registered", "waitlisted", "declined", "cancelled")


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)   # the registration page: /e/<slug>
    uid: Mapped[str] = mapped_column(String(200), unique=True)   # iCalendar UID, never changes
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")   # markdown
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # shown to invitees in this zone
    location: Mapped[str] = mapped_column(String(500), default="")    # a place, or empty when online only
    online_url: Mapped[str] = mapped_column(String(1000), default="")
    capacity: Mapped[int | None] = mapped_column(Integer)              # None: no limit
    language: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registrations: Mapped[list["EventRegistration"]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventRegistration.id")


class EventRegistration(db.Model):
    """One stakeholder and one event: invited, registered, waitlisted, declined or cancelled;
    attended or not."""

    __tablename__ = "event_registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "contact_id", name="uq_event_registrations_event_contact"),
        Index("ix_event_registrations_event_status", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoints.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="invited")
    source: Mapped[str] = mapped_column(String(30), default="invitation")  # invitation, page, import
    sent_sequence: Mapped[int | None] = mapped_column(Integer)  # the event sequence last emailed
    # set while an update or cancellation is being sent; one that runs out (its sender died) is sent again
    update_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="registrations")
    contact: Mapped[Contact] = relationship()
    account: Mapped[Account] = relationship()
