"""Pre-aggregated engagement for the KPI dashboard, kept current by abmcontent.kpi_rollups.

Rows are keyed by account, never by tier, plan or target list: those are joined from the accounts
as they are when the dashboard is read, so changing them leaves no rollup wrong. Days are local
days in the time zone named in the state row. No foreign keys to accounts on purpose, as for the
events they sum: an event of a deleted account still counts where the events say it does.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime


class KpiRollupState(db.Model):
    """One row: how far the rollups go, in which time zone, and who is rolling them now."""

    __tablename__ = "kpi_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    timezone: Mapped[str] = mapped_column(String(64))
    # every event with an id up to here is in the rollups, except the gaps (KpiRollupGap)
    events_through: Mapped[int] = mapped_column(BigInteger, default=0)
    # every email touchpoint sent before this instant is in kpi_emails; None: none yet
    sends_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str] = mapped_column(String(100), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # one more on every transaction of the job: a reader that saw two values read a moving target
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class KpiRollupGap(db.Model):
    """Event ids at or below the watermark not seen yet: on PostgreSQL an insert may commit after a
    later id did. Looked for again on every run until `seen_at` is GAP_SECONDS old."""

    __tablename__ = "kpi_rollup_gaps"

    first_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KpiDay(db.Model):
    """What people (``machine == ""``) did at known accounts on a local day, by event type: the
    dashboard without a tier or plan reads a period's totals from a few rows a day."""

    __tablename__ = "kpi_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(30), primary_key=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float] = mapped_column(Float, default=0.0)  # seconds, for time_on_page


class KpiAccountDay(db.Model):
    """What people did at an account on a local day, by event type."""

    __tablename__ = "kpi_account_days"
    __table_args__ = (
        # a tier's, a plan's or the target list's accounts: seeks by account, covering
        Index("ix_kpi_account_days_account", "account_id", "day", "type", "events", "value"),
        {"sqlite_with_rowid": False},  # the table is its key: a period is one range read
    )

    # key order (day, type, account): a period's totals by day and type are read in key order
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(30), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float] = mapped_column(Float, default=0.0)  # seconds, for time_on_page


class KpiAccountMonth(db.Model):
    """The local days of a month on which people did something at an account, as bits (bit 0: the
    1st): accounts engaged in a period are counted from a row per account and month."""

    __tablename__ = "kpi_account_months"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(Integer, default=0)


class KpiLeadDay(db.Model):
    """A contact who filled in a form at an account on a local day (leads are distinct people)."""

    __tablename__ = "kpi_lead_days"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class KpiEmail(db.Model):
    """An email touchpoint: when it was sent (and its local day), and the last time a person opened
    and clicked it. Rates count emails by the day they were SENT, whenever they are opened."""

    __tablename__ = "kpi_emails"
    __table_args__ = (
        # covering, in day order: a period's sends, opens and clicks by day from this index alone
        Index("ix_kpi_emails_sent_day", "sent_day", "sent_at", "account_id", "opened_at", "clicked_at"),
    )

    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoints.id", ondelete="CASCADE"), primary_key=True,
                                               autoincrement=False)
    account_id: Mapped[int] = mapped_column(Integer)
    # None until the touchpoint is known to be sent (an open processed before its send committed)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_day: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
