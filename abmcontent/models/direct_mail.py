"""Direct mail: one piece per recipient, collected into print batches (one PDF and one CSV
manifest a print house can take).

The dispatcher checks the address and records a piece with its personalised text; a batch run
lays every queued piece out in one print-ready PDF and writes the manifest beside it. The address
is copied onto the piece: what was printed stays on record when the contact moves.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abmcontent.extensions import db
from abmcontent.models.accounts import Account, Contact
from abmcontent.models.base import UTCDateTime, utcnow

MAIL_FORMATS = ("letter", "postcard")
PIECE_STATUSES = ("queued", "batched")
BATCH_STATUSES = ("building", "ready", "failed")


class DirectMailBatch(db.Model):
    __tablename__ = "direct_mail_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="building")  # building, ready, failed
    error: Mapped[str] = mapped_column(String(1000), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a builder holds it until then
    pieces_count: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    pdf_path: Mapped[str] = mapped_column(String(500), default="")       # relative to the print folder
    manifest_path: Mapped[str] = mapped_column(String(500), default="")

    pieces: Mapped[list["DirectMailPiece"]] = relationship(back_populates="batch", order_by="DirectMailPiece.id")


class DirectMailPiece(db.Model):
    __tablename__ = "direct_mail_pieces"
    __table_args__ = (Index("ix_direct_mail_pieces_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoints.id", ondelete="SET NULL"),
                                                      unique=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("direct_mail_batches.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    format: Mapped[str] = mapped_column(String(20), default="letter")
    language: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_title: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(300), default="")
    street: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # markdown with merge fields already filled in
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batch: Mapped[DirectMailBatch | None] = relationship(back_populates="pieces")
    account: Mapped[Account] = relationship()
    contact: Mapped[Contact | None] = relationship()
