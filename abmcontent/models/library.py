"""The content library: assets, their tags, revisions, workflow transitions and files."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.base import UTCDateTime, utcnow
from abmcontent.models.users import User


class Asset(db.Model):
    __tablename__ = "assets"
    __table_args__ = (Index("ix_assets_status_language", "status", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(30), index=True)
    language: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    gated: Mapped[bool] = mapped_column(default=False)
    cta_label: Mapped[str] = mapped_column(String(200), default="")
    cta_url: Mapped[str] = mapped_column(String(2000), default="")
    # Case-folded title, summary, body and tags: what search matches against.
    search_text: Mapped[str] = mapped_column(Text, default="")
    source_path: Mapped[str | None] = mapped_column(String(500))
    source_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    tags: Mapped[list["AssetTag"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", lazy="selectin"
    )
    revisions: Mapped[list["AssetRevision"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan",
        order_by="AssetRevision.number.desc()",
    )
    transitions: Mapped[list["AssetTransition"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan",
        order_by=lambda: (AssetTransition.at.desc(), AssetTransition.id.desc()),
    )
    files: Mapped[list["AssetFile"]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="AssetFile.id"
    )
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])

    def tag_values(self, kind: str) -> list[str]:
        return sorted(t.value for t in self.tags if t.kind == kind)

    @property
    def stages(self) -> list[str]:
        return self.tag_values("stage")

    @property
    def personas(self) -> list[str]:
        return self.tag_values("persona")

    @property
    def industries(self) -> list[str]:
        return self.tag_values("industry")


class AssetTag(db.Model):
    """One journey stage, persona or industry an asset is tagged with."""

    __tablename__ = "asset_tags"
    __table_args__ = (Index("ix_asset_tags_kind_value", "kind", "value", "asset_id"),)

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(60), primary_key=True)

    asset: Mapped[Asset] = relationship(back_populates="tags")


class AssetRevision(db.Model):
    """A snapshot of an asset as one save left it; restore copies it back as a new revision."""

    __tablename__ = "asset_revisions"
    __table_args__ = (
        db.UniqueConstraint("asset_id", "number", name="uq_asset_revisions_asset_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    snapshot: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship()


class AssetTransition(db.Model):
    """Who moved an asset from one workflow status to another, and when."""

    __tablename__ = "asset_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(500), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="transitions")
    user: Mapped[User | None] = relationship()


class AssetFile(db.Model):
    """A file attached to an asset, stored outside static paths under a random name."""

    __tablename__ = "asset_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="files")
