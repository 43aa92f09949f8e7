"""ICP criteria: weighted, with graded bands; tier thresholds. Data, edited in the UI."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime, utcnow


class IcpCriterion(db.Model):
    """One weighted criterion, e.g. employees with bands [{"min": 10, "max": 50, "score": 100}, …]."""

    __tablename__ = "icp_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    attribute: Mapped[str] = mapped_column(String(40))  # industry, revenue, employees, region, technologies, competitor_products
    label: Mapped[str] = mapped_column(String(200), default="")
    weight: Mapped[float] = mapped_column(default=1.0)
    bands: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)


class IcpSettings(db.Model):
    """Tier thresholds on the 0–100 ICP fit score (one row)."""

    __tablename__ = "icp_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    tier1_min: Mapped[float] = mapped_column(default=75.0)
    tier2_min: Mapped[float] = mapped_column(default=50.0)
    tier3_min: Mapped[float] = mapped_column(default=25.0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
