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
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload
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


class DomainRates:
    """At most `limit` messages a minute to one recipient domain, from this dispatcher process (a
    mailbox provider that sees a burst throttles or blocks the sender). With N dispatchers the
    domain sees up to N × limit; the setting is per process on purpose, to need no shared state."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.times: dict[str, deque] = {}

    def wait(self, domain: str, now: datetime):
        """None if a message may go now, else the time it may."""
        if self.limit <= 0:
            return None
        times = self.times.get(domain)
        if times is None:
            return None
        while times and (now - times[0]).total_seconds() >= 60:
            times.popleft()
        if len(times) < self.limit:
            return None
        return times[0] + timedelta(seconds=60)

    def sent(self, domain: str, now: datetime) -> None:
        self.times.setdefault(domain, deque()).append(now)


def _domain_rates(limit: int) -> DomainRates:
    """One per app (so per process) and limit: the window outlives a single dispatch pass."""
    kept = current_app.extensions.setdefault("abm_domain_rates", {})
    rates = kept.get(limit)
    if rates is None:
        rates = kept[limit] = DomainRates(limit)
    return rates


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_once(now: datetime, worker: str | None = None, batch: int = 100,
                  available: dict | None = None, stop=None) -> DispatchReport:
    """One pass: claim up to `batch` due touchpoints and deliver them. `stop` (a threading.Event)
    set meanwhile ends the pass after the message in hand; the rest of the claim is released."""
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
    rates = _domain_rates(current_app.config.get("MAIL_DOMAIN_RATE", 120))
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
        for index, touchpoint_id in enumerate(ids):
            if stop is not None and stop.is_set():
                report.counts["released"] = touchpoints.release(ids[index:], worker, now)
                break
            touchpoint = batch_rows.get(touchpoint_id) or db.session.get(Touchpoint, touchpoint_id)
            channel = available.get(touchpoint.channel)
            if channel is None:
                touchpoints.mark_failed(touchpoint.id, worker, f"no {touchpoint.channel} channel is set up", now)
                report.add("failed")
                continue
            if touchpoint.window_end_at < now:
                touchpoints.finish(touchpoint.id, worker, "missed", "send window passed", now)
                report.add("missed")
                continue
            verdict = conditions.check(touchpoint, now, cap, cap_days, recent)
            if verdict.action == "stop":
                conditions.stop_plan(touchpoint.enrollment_id, verdict.reason)
                touchpoints.mark_skipped(touchpoint.id, worker, verdict.reason, now)
                report.add("skipped")
                continue
            if verdict.action in ("skip", "missed"):
                touchpoints.finish(touchpoint.id, worker, "skipped" if verdict.action == "skip" else "missed",
                                    verdict.reason, now)
                report.add("skipped" if verdict.action == "skip" else "missed")
                continue
            if verdict.action == "later":
                touchpoints.defer(touchpoint.id, worker, verdict.reason, verdict.until, now)
                report.add("deferred")
                continue
            domain = (touchpoint.contact.email.rsplit("@", 1)[-1].lower()
                      if touchpoint.channel in ("email", "event") and touchpoint.contact is not None
                      and touchpoint.contact.email else "")
            wait = rates.wait(domain, now) if domain else None
            if wait is not None:
                touchpoints.defer(touchpoint.id, worker, f"send rate to {domain}: {rates.limit} a minute", wait, now)
                report.add("deferred")
                continue
            if touchpoint.channel in ("email", "direct_mail") and touchpoint.asset_id is None \
                    and touchpoint.step_id is not None:
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
                if domain:
                    rates.sent(domain, now)
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
