"""Deals (opportunities) per account: stage, amount, dates, meetings, and how they closed."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.accounts import Account
from abmcontent.models.base import UTCDateTime, utcnow
from abmcontent.models.users import User

OPEN_STAGES = ("qualification", "discovery", "proposal", "negotiation")
CLOSED_STAGES = ("closed_won", "closed_lost")
DEAL_STAGES = OPEN_STAGES + CLOSED_STAGES


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_created", "created_on"),
        Index("ix_deals_closed", "stage", "closed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(20), default="qualification")
    amount: Mapped[int | None] = mapped_column(BigInteger)  # whole currency units (USD), like Account.revenue
    created_on: Mapped[date] = mapped_column(Date)
    proposal_sent_on: Mapped[date | None] = mapped_column(Date)
    meetings: Mapped[int] = mapped_column(Integer, default=0)
    closed_on: Mapped[date | None] = mapped_column(Date)      # set for closed_won / closed_lost
    close_reason: Mapped[str] = mapped_column(String(1000), default="")  # why it was won or lost
    churned_on: Mapped[date | None] = mapped_column(Date)     # a won customer who left
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    crm_id: Mapped[str] = mapped_column(String(64), default="", index=True)  # the CRM's own id: re-imports update
    source: Mapped[str] = mapped_column(String(20), default="ui")  # ui, csv
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    owner: Mapped[User | None] = relationship()
