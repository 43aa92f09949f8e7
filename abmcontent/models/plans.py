"""Touchpoint plans and the touchpoints they schedule (DESIGN.md decision 1: state in the database).

A Plan is a reusable template of ordered steps. Applying it to an account makes an Enrollment,
and one Touchpoint row per step and recipient: due time, status, attempts, lease, idempotency
key. Dispatchers claim due rows with a lease; every status change is a TouchpointTransition.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.accounts import Account, Contact
from abmcontent.models.base import UTCDateTime, utcnow

CHANNELS = ("email", "event", "direct_mail", "sales_task", "ad_audience")
TOUCHPOINT_STATUSES = ("planned", "claimed", "sent", "failed", "skipped", "missed", "cancelled")


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_template: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    steps: Mapped[list["PlanStep"]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanStep.position")


class PlanStep(db.Model):
    __tablename__ = "plan_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20))
    offset_days: Mapped[int] = mapped_column(Integer, default=0)
    offset_hours: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[str] = mapped_column(String(5), default="09:00")  # local time in the recipient's zone
    window_end: Mapped[str] = mapped_column(String(5), default="17:00")
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))  # None: matching fills it
    personas: Mapped[list] = mapped_column(JSON, default=list)   # empty: every stakeholder
    subject: Mapped[str] = mapped_column(String(300), default="")
    conditions: Mapped[dict] = mapped_column(JSON, default=dict)  # {"skip_if_engaged": true, "stop_on": [...]}
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))  # event steps
    mail_format: Mapped[str] = mapped_column(String(20), default="letter", server_default="letter")  # direct mail

    plan: Mapped[Plan] = relationship(back_populates="steps")


class Enrollment(db.Model):
    """One account in one plan: paused, resumed, cancelled or stopped as a whole."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, paused, cancelled, stopped
    reason: Mapped[str] = mapped_column(String(300), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    plan: Mapped[Plan] = relationship()
    account: Mapped[Account] = relationship()


class Touchpoint(db.Model):
    __tablename__ = "touchpoints"
    __table_args__ = (
        Index("ix_touchpoints_due", "status", "due_at"),
        Index("ix_touchpoints_lease", "status", "lease_until"),
        Index("ix_touchpoints_sent", "channel", "sent_at"),  # emails sent in a period (KPIs)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"),
                                                      index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("plan_steps.id", ondelete="SET NULL"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(300), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end_at: Mapped[datetime] = mapped_column(UTCDateTime)  # not sent by then: missed
    status: Mapped[str] = mapped_column(String(20), default="planned")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_id: Mapped[str] = mapped_column(String(300), default="")  # e.g. the Message-ID sent
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    contact: Mapped[Contact | None] = relationship()
    step: Mapped[PlanStep | None] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()
    transitions: Mapped[list["TouchpointTransition"]] = relationship(
        cascade="all, delete-orphan", order_by="TouchpointTransition.id")


class TouchpointTransition(db.Model):
    __tablename__ = "touchpoint_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoints.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    worker: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Suppression(db.Model):
    """An address we never email again: unsubscribed, hard-bounced or complained."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    reason: Mapped[str] = mapped_column(String(50))  # unsubscribed, bounced, complained
    detail: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SalesTask(db.Model):
    """A sales-task touchpoint as it lands in the account owner's "My tasks" queue."""

    __tablename__ = "sales_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoints.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    talking_points: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, done, skipped
    note: Mapped[str] = mapped_column(String(1000), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class TrackedLink(db.Model):
    """A link in a sent email: the click goes to /r/<signed id> and on to this stored URL only."""

    __tablename__ = "tracked_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoints.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
