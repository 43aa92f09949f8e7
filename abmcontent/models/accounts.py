"""Target accounts, their stakeholders (contacts), consent and the target-list agreement."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime, utcnow
from abmcontent.models.users import User

if TYPE_CHECKING:
    from abmcontent.models.plans import Suppression  # plans imports this module

TARGET_STATUSES = ("proposed", "agreed", "rejected")


class Account(db.Model):
    __tablename__ = "accounts"
    # (sort column, id) pairs let the list page walk an index in order at 100,000 accounts;
    # (filter, score) pairs serve the common filters under the default sort. Each index costs
    # import time (bench/import_accounts.py), so rarer sorts (employees, revenue) sort in memory.
    __table_args__ = (
        Index("ix_accounts_score_id", "icp_score", "id"),
        Index("ix_accounts_name_domain", "name", "domain", "id"),  # also covers the name search
        Index("ix_accounts_tier_score", "tier", "icp_score", "id"),
        Index("ix_accounts_industry_tier", "industry", "tier", "icp_score", "id"),
        Index("ix_accounts_owner_score", "owner_id", "icp_score", "id"),
        Index("ix_accounts_place_score", "country", "region", "icp_score", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # Lower-cased name without punctuation or legal suffixes: the second dedupe key after domain.
    name_key: Mapped[str] = mapped_column(String(300), default="", index=True)
    domain: Mapped[str] = mapped_column(String(253), default="", index=True)
    industry: Mapped[str] = mapped_column(String(100), default="")
    sub_industry: Mapped[str] = mapped_column(String(200), default="")
    revenue: Mapped[int | None] = mapped_column(BigInteger)  # annual revenue, whole currency units (USD)
    employees: Mapped[int | None]
    country: Mapped[str] = mapped_column(String(100), default="")  # ISO 3166-1 alpha-2 where known
    region: Mapped[str] = mapped_column(String(100), default="")   # state / province
    city: Mapped[str] = mapped_column(String(200), default="")
    technologies: Mapped[list] = mapped_column(JSON, default=list)
    competitor_products: Mapped[list] = mapped_column(JSON, default=list)
    customer_base: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tier: Mapped[int | None]
    tier_locked: Mapped[bool] = mapped_column(default=False)  # set by hand: rescoring leaves it alone
    journey_stage: Mapped[str] = mapped_column(String(50), default="awareness")
    lost: Mapped[bool] = mapped_column(default=False)
    deal_size: Mapped[int | None] = mapped_column(BigInteger)
    ip_ranges: Mapped[list] = mapped_column(JSON, default=list)  # CIDR strings, v4 and v6
    # BANT: {"budget": {"status": "unknown|confirmed|partial|none", "note": "..."}, ...}
    bant: Mapped[dict] = mapped_column(JSON, default=dict)
    goals: Mapped[str] = mapped_column(Text, default="")
    plans: Mapped[str] = mapped_column(Text, default="")
    challenges: Mapped[str] = mapped_column(Text, default="")
    stakes: Mapped[str] = mapped_column(Text, default="")
    timeline: Mapped[str] = mapped_column(Text, default="")
    icp_score: Mapped[float | None]
    target_status: Mapped[str | None] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(50), default="")
    crm_id: Mapped[str] = mapped_column(String(64), default="", index=True)  # the CRM's own id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User | None] = relationship()
    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="account", order_by="Contact.last_name"
    )
    domains: Mapped[list["AccountDomain"]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    target_decisions: Mapped[list["TargetDecision"]] = relationship(
        back_populates="account", cascade="all, delete-orphan",
        order_by=lambda: (TargetDecision.at.desc(), TargetDecision.id.desc()),
    )


class AccountDomain(db.Model):
    """Every domain an account answers to (website, email domains): the first dedupe key."""

    __tablename__ = "account_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)

    account: Mapped[Account] = relationship(back_populates="domains")


class TargetDecision(db.Model):
    """Marketing and sales agreeing on the target list: proposed, agreed or rejected, by whom, why."""

    __tablename__ = "target_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(1000), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="target_decisions")
    user: Mapped[User | None] = relationship()


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(50), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    seniority: Mapped[str] = mapped_column(String(30), default="")  # c_level, vp, director, manager, staff
    persona: Mapped[str] = mapped_column(String(50), default="")
    buying_authority: Mapped[str] = mapped_column(String(30), default="")  # decision_maker, influencer, user, blocker
    language: Mapped[str] = mapped_column(String(10), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    street: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="contacts")
    consents: Mapped[list["Consent"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="Consent.given_at.desc()"
    )
    # Why this address is never emailed (bounce, complaint, unsubscribe), if it is: read-only.
    suppression: Mapped["Suppression | None"] = relationship(
        primaryjoin="foreign(Contact.email) == remote(Suppression.email)", viewonly=True, uselist=False)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def unsubscribed(self) -> bool:
        return self.unsubscribed_at is not None


class Consent(db.Model):
    """Permission to contact, with the exact wording shown: channel, source, when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(30))  # email, phone, direct_mail, events
    source: Mapped[str] = mapped_column(String(200), default="")
    wording: Mapped[str] = mapped_column(Text, default="")
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contact: Mapped[Contact] = relationship(back_populates="consents")
