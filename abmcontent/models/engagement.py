"""Engagement events: what prospects did, where and with which content.

An append-only log written in batches by abmcontent.tracking. No foreign keys on purpose: an
event must never be refused because the account it names was merged or deleted meanwhile, and a
batch insert must not fail as a whole for one such row. ``key`` is random and unique, so a batch
replayed from the spool after a failure is inserted once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime

EVENT_TYPES = ("page_view", "time_on_page", "asset_open", "asset_download", "cta_click", "form_fill",
               "meeting_booked", "reply", "email_open", "email_click",
               "event_registered", "event_declined", "event_attended")
CONSUMED_TYPES = ("asset_open", "asset_download", "form_fill")  # the visitor has that asset now


class EngagementEvent(db.Model):
    __tablename__ = "engagement_events"
    __table_args__ = (
        Index("ix_engagement_events_account_time", "account_id", "occurred_at"),
        Index("ix_engagement_events_contact_time", "contact_id", "occurred_at"),
        Index("ix_engagement_events_page_variant", "landing_page_id", "variant", "type"),
        Index("ix_engagement_events_visit", "visit"),
        # "what has this contact (account) consumed lately": a covering seek per event type
        Index("ix_engagement_events_contact_type", "contact_id", "type", "id"),
        Index("ix_engagement_events_account_type", "account_id", "type", "id"),
        # the KPI dashboard: covering, so a period's figures are read from this index alone
        # (bench/kpis.py: 2-3x faster than seeking table rows through an index on the time)
        Index("ix_engagement_events_type_time", "type", "occurred_at", "machine", "account_id", "value",
              "touchpoint_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    asset_id: Mapped[int | None] = mapped_column(Integer, index=True)
    landing_page_id: Mapped[int | None] = mapped_column(Integer)
    visit: Mapped[str] = mapped_column(String(40), default="", server_default="")  # one page view's random id
    variant: Mapped[str] = mapped_column(String(12), default="", server_default="")  # personalized, control, ""
    value: Mapped[float | None] = mapped_column(Float)  # seconds for time_on_page
    channel: Mapped[str] = mapped_column(String(20), default="web", server_default="web")
    user_agent: Mapped[str] = mapped_column(String(300), default="", server_default="")
    detail: Mapped[dict | None] = mapped_column(JSON)
    # why a mail proxy or a link scanner made it, not a person (abmcontent.machines); "" = a person
    machine: Mapped[str] = mapped_column(String(40), default="", server_default="")
    touchpoint_id: Mapped[int | None] = mapped_column(Integer)  # the email an open or click belongs to


class ScoringSettings(db.Model):
    """How engagement becomes a score (one row, edited by marketers): points per event type and
    the half-life in days after which an event counts half."""

    __tablename__ = "scoring_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    weights: Mapped[dict] = mapped_column(JSON, default=dict)  # event type → points; missing: the default
    half_life_days: Mapped[int] = mapped_column(Integer, default=30)
    # MQA (marketing-qualified account): an ICP tier at least this good and at least this score
    mqa_max_tier: Mapped[int] = mapped_column(Integer, default=2)
    mqa_min_score: Mapped[float] = mapped_column(Float, default=40.0)
    # intent surge: this week's points at least `surge_factor` × the weekly average of the weeks
    # before, and at least `surge_min_points`
    surge_factor: Mapped[float] = mapped_column(Float, default=2.0)
    surge_min_points: Mapped[float] = mapped_column(Float, default=10.0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
