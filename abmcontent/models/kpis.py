"""What the KPIs are computed from beyond events and deals: marketing spend, and the moments an
account first engaged and first became marketing-qualified."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime, utcnow

SPEND_PROGRAMS = ("abm", "general")
SPEND_CATEGORIES = ("content", "research", "contact_discovery", "advertising", "events", "other")
MILESTONES = ("engaged", "mqa")


class Spend(db.Model):
    """Money spent in a month on a program (ABM or general marketing), by category, optionally
    on one plan."""

    __tablename__ = "spends"
    __table_args__ = (Index("ix_spends_month", "month", "program"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    amount: Mapped[int] = mapped_column(BigInteger)  # whole currency units (USD)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountMilestone(db.Model):
    """The first time an account engaged (a person, not a machine) and became an MQA: kept, because
    decay and rule changes would otherwise rewrite history."""

    __tablename__ = "account_milestones"
    __table_args__ = (Index("ix_account_milestones_kind_at", "kind", "reached_at"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)
