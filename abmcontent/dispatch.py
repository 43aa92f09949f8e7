"""The dispatcher: claim due touchpoints, hand each to its channel, record the outcome.

`flask touchpoints dispatch --once` runs one pass; the scheduler runs a pass every few seconds.
Any number of dispatcher processes may run against one PostgreSQL database: claims never
overlap (touchpoints.claim_due), and a claim whose dispatcher died is taken again after its
lease. A touchpoint is due inside its send window only; one past it is marked missed.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from abmcontent import channels, conditions, touchpoints
from abmcontent.extensions import db
from abmcontent.models import Contact, Touchpoint

log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_once(now: datetime, worker: str | None = None, batch: int = 100,
                  available: dict | None = None) -> DispatchReport:
    worker = worker or worker_name()
    report = DispatchReport()
    touchpoints.mark_missed(now, worker)
    ids = touchpoints.claim_due(now, worker, batch)
    report.claimed = len(ids)
    if not ids:
        return report
    available = available if available is not None else channels.for_app(current_app)
    cap = current_app.config.get("FREQUENCY_CAP", 3)
    cap_days = current_app.config.get("FREQUENCY_DAYS", 7)
    recent: dict = {}
    # the whole batch with its stakeholders and accounts in two queries, not two per touchpoint
    batch_rows = {t.id: t for t in db.session.scalars(
        select(Touchpoint).where(Touchpoint.id.in_(ids))
        .options(selectinload(Touchpoint.contact).joinedload(Contact.account), selectinload(Touchpoint.account),
                 selectinload(Touchpoint.step), selectinload(Touchpoint.enrollment)))}
    if cap > 0:
        recent = conditions.recent_sends([t.account_id for t in batch_rows.values()], now, cap_days, worker)
    for name, channel in available.items():
        prepare = getattr(channel, "prepare", None)
        if prepare is not None:
            prepare([t for t in batch_rows.values() if t.channel == name])
    try:
        for touchpoint_id in ids:
            touchpoint = batch_rows.get(touchpoint_id) or db.session.get(Touchpoint, touchpoint_id)
            channel = available.get(touchpoint.channel)
            if channel is None:
                touchpoints.mark_failed(touchpoint.id, worker, f"no {touchpoint.channel} channel is set up", now)
                report.add("failed")
                continue
            if touchpoint.window_end_at < now:
                touchpoints._finish(touchpoint.id, worker, "missed", "send window passed", now)
                report.add("missed")
                continue
            verdict = conditions.check(touchpoint, now, cap, cap_days, recent)
            if verdict.action == "stop":
                conditions.stop_plan(touchpoint.enrollment_id, verdict.reason)
                touchpoints.mark_skipped(touchpoint.id, worker, verdict.reason, now)
                report.add("skipped")
                continue
            if verdict.action in ("skip", "missed"):
                touchpoints._finish(touchpoint.id, worker, "skipped" if verdict.action == "skip" else "missed",
                                    verdict.reason, now)
                report.add("skipped" if verdict.action == "skip" else "missed")
                continue
            if verdict.action == "later":
                touchpoints._finish(touchpoint.id, worker, "planned", verdict.reason, now, due_at=verdict.until)
                report.add("deferred")
                continue
            if touchpoint.channel == "email" and touchpoint.asset_id is None and touchpoint.step_id is not None:
                picked = conditions.fill_slot(touchpoint, now)
                if picked is None:
                    touchpoints.mark_skipped(touchpoint.id, worker, "no published asset fits this stakeholder", now)
                    report.add("skipped")
                    continue
                # sent with it, and written to the row when it is finished (not flushed by the session,
                # which would hold SQLite's write lock across the send)
                set_committed_value(touchpoint, "asset_id", picked)
            try:
                outcome = channel.deliver(touchpoint, now)
            except Exception as error:  # an adapter bug must not take the batch down: retried later
                log.exception("delivering touchpoint %s failed", touchpoint.id)
                db.session.rollback()
                outcome = channels.Outcome("retry", f"unexpected error: {error}")
                touchpoint = db.session.get(Touchpoint, touchpoint_id)
            if outcome.status == "sent":
                touchpoints.mark_sent(touchpoint.id, worker, outcome.provider_id, now, asset_id=touchpoint.asset_id)
                recent.setdefault(touchpoint.account_id, []).append(now)
            elif outcome.status == "skipped":
                touchpoints.mark_skipped(touchpoint.id, worker, outcome.reason, now)
            elif outcome.status == "failed":
                touchpoints.mark_failed(touchpoint.id, worker, outcome.reason, now)
            else:
                outcome = channels.Outcome(touchpoints.retry_later(touchpoint, worker, outcome.reason, now))
            report.add(outcome.status)
    finally:
        for channel in available.values():
            channel.close()
        db.session.expire_all()  # the rows were finished on their own connections: reload on next use
    return report
