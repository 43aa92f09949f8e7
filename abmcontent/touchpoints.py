"""Touchpoints as rows: scheduled, claimed with a lease, finished once (DESIGN.md decision 1).

Every status change goes through TRANSITIONS and leaves a TouchpointTransition with its reason.
Claiming is one statement: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` in the subquery, so
dispatchers on several machines take disjoint batches without waiting on each other; on SQLite
the single UPDATE … RETURNING holds the write lock, which makes it atomic. A claim carries a
lease; a dispatcher that dies leaves rows whose lease runs out, and the next claim takes them
again. Finishing is fenced: only the worker holding the claim can finish a row, so a dispatcher
that stalled past its lease cannot overwrite what another one did.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.sql.elements import ClauseElement

from abmcontent.errors import InvalidTransition, NotFound
from abmcontent.extensions import db
from abmcontent.models import Enrollment, Touchpoint, TouchpointTransition  # noqa: F401 (re-exported)

TRANSITIONS = {
    ("planned", "claimed"),
    ("claimed", "claimed"),    # the lease ran out (its dispatcher died): claimed again
    ("claimed", "sent"),
    ("claimed", "failed"),
    ("claimed", "planned"),    # a temporary failure: back in line, later
    ("claimed", "skipped"),
    ("planned", "skipped"),
    ("claimed", "missed"),
    ("planned", "missed"),
    ("planned", "cancelled"),
    ("claimed", "cancelled"),
}
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 6
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
           timedelta(hours=4))


def idempotency_key(*parts) -> str:
    """The same touchpoint always gets the same key (plan step, account, contact, due date…)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def schedule(*, account_id: int, contact_id: int | None, channel: str, due_at: datetime,
             window_end_at: datetime, key: str, now: datetime, enrollment_id: int | None = None,
             step_id: int | None = None, asset_id: int | None = None, subject: str = "") -> Touchpoint:
    """A planned touchpoint; scheduling the same key again returns the one already there."""
    found = db.session.scalar(select(Touchpoint).where(Touchpoint.idempotency_key == key))
    if found is not None:
        return found
    touchpoint = Touchpoint(account_id=account_id, contact_id=contact_id, channel=channel, due_at=due_at,
                            window_end_at=window_end_at, idempotency_key=key, enrollment_id=enrollment_id,
                            step_id=step_id, asset_id=asset_id, subject=subject, status="planned",
                            created_at=now, updated_at=now)
    db.session.add(touchpoint)
    db.session.commit()
    return touchpoint


def _log(rows: list[tuple[int, str, str]], worker: str, reason: str, now: datetime) -> None:
    if rows:
        db.session.execute(insert(TouchpointTransition), [
            {"touchpoint_id": tid, "from_status": before, "to_status": after, "reason": reason[:1000],
             "worker": worker[:100], "at": now} for tid, before, after in rows])


def _claim(condition, now: datetime, worker: str, batch: int, lease: timedelta) -> list[int]:
    t = Touchpoint.__table__
    live = or_(t.c.enrollment_id.is_(None), t.c.enrollment_id.in_(
        select(Enrollment.id).where(Enrollment.status == "active")))
    pick = select(t.c.id).where(condition, live).order_by(t.c.due_at, t.c.id).limit(batch)
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (update(t).where(t.c.id.in_(pick.scalar_subquery()))
                 .values(status="claimed", claimed_by=worker[:100], lease_until=now + lease,
                         attempts=t.c.attempts + 1, updated_at=now)
                 .returning(t.c.id))
    return [tid for (tid,) in db.session.execute(statement)]


def claim_due(now: datetime, worker: str, batch: int = 100, lease: timedelta = LEASE) -> list[int]:
    """Claim up to `batch` touchpoints for `worker`: first those whose lease ran out (a dispatcher
    died holding them), then the due ones, oldest first; their ids. Touchpoints of a paused,
    cancelled or stopped enrollment are left alone."""
    t = Touchpoint.__table__
    again = _claim(and_(t.c.status == "claimed", t.c.lease_until < now), now, worker, batch, lease)
    _log([(tid, "claimed", "claimed") for tid in again], worker, "the previous claim's lease ran out", now)
    fresh = _claim(and_(t.c.status == "planned", t.c.due_at <= now), now, worker, batch - len(again), lease) \
        if batch > len(again) else []
    _log([(tid, "planned", "claimed") for tid in fresh], worker, "due", now)
    db.session.commit()
    return again + fresh


def finish(touchpoint_id: int, worker: str, to_status: str, reason: str, now: datetime, **values) -> bool:
    """Move a claimed touchpoint on, if `worker` still holds it; False if it no longer does.

    Its own short transaction on its own connection, committed before the next send: the
    session's objects (the batch, its stakeholders) stay loaded instead of being expired by a
    session commit after every message."""
    if ("claimed", to_status) not in TRANSITIONS:
        raise InvalidTransition(f"claimed → {to_status}")
    plain = {k: v for k, v in values.items() if not isinstance(v, ClauseElement)}
    expressions = {k: v for k, v in values.items() if k not in plain}  # e.g. attempts - 1
    statement = _finish_statement(tuple(sorted(plain)))
    if expressions:
        statement = statement.values(**expressions)  # generative: the cached statement is left as it is
    with db.engine.begin() as conn:
        done = conn.execute(statement, {
            "tid": touchpoint_id, "worker": worker[:100], "to_status": to_status, "now": now,
            "last_error": reason[:1000] if to_status != "sent" else "", **plain}).rowcount
        if done:
            conn.execute(_TRANSITION_INSERT, {
                "touchpoint_id": touchpoint_id, "from_status": "claimed", "to_status": to_status,
                "reason": reason[:1000], "worker": worker[:100], "at": now})
            if to_status == "failed":  # told to webhooks in this transaction: never lost, never twice
                from abmcontent import webhooks

                webhooks.emit_touchpoint_failed(touchpoint_id, reason, now, connection=conn)
    return bool(done)


_TRANSITION_INSERT = insert(TouchpointTransition.__table__)


@functools.lru_cache(maxsize=64)
def _finish_statement(plain: tuple[str, ...]):
    """The fenced UPDATE for a set of extra columns, built once (building and cache-keying a new
    statement for every message was a tenth of a send's CPU)."""
    t = Touchpoint.__table__
    return (update(t).where(t.c.id == bindparam("tid"), t.c.status == "claimed",
                            t.c.claimed_by == bindparam("worker"))
            .values(status=bindparam("to_status"), lease_until=None, updated_at=bindparam("now"),
                    last_error=bindparam("last_error"), **{k: bindparam(k) for k in plain}))


def mark_sent(touchpoint_id: int, worker: str, provider_id: str, now: datetime, **values) -> bool:
    return finish(touchpoint_id, worker, "sent", "sent", now, provider_id=provider_id[:300], sent_at=now, **values)


def mark_failed(touchpoint_id: int, worker: str, reason: str, now: datetime) -> bool:
    return finish(touchpoint_id, worker, "failed", reason, now)


def mark_skipped(touchpoint_id: int, worker: str, reason: str, now: datetime) -> bool:
    return finish(touchpoint_id, worker, "skipped", reason, now)


def retry_later(touchpoint: Touchpoint, worker: str, reason: str, now: datetime) -> str:
    """A temporary failure: back to planned after a backoff that grows with the attempts; failed
    once attempts run out, missed if the next try would fall past the send window."""
    if touchpoint.attempts >= MAX_ATTEMPTS:
        finish(touchpoint.id, worker, "failed", f"{reason} (gave up after {touchpoint.attempts} attempts)", now)
        return "failed"
    later = now + BACKOFF[min(touchpoint.attempts - 1, len(BACKOFF) - 1)]
    if later > touchpoint.window_end_at:
        finish(touchpoint.id, worker, "missed", f"{reason}; the next try would be past its send window", now)
        return "missed"
    finish(touchpoint.id, worker, "planned", f"{reason}; retry at {later.isoformat(timespec='minutes')}", now,
            due_at=later)
    return "planned"


def defer(touchpoint_id: int, worker: str, reason: str, until: datetime, now: datetime) -> bool:
    """Back in line until a later time, without counting as a failed attempt (a frequency cap or
    a send rate held it, nothing went wrong)."""
    return finish(touchpoint_id, worker, "planned", reason, now, due_at=until,
                   attempts=Touchpoint.__table__.c.attempts - 1)


def release(touchpoint_ids, worker: str, now: datetime) -> int:
    """Hand claims back unsent (the dispatcher is stopping): due again at once for the next
    dispatcher, without waiting out the lease and without counting as an attempt."""
    return sum(finish(tid, worker, "planned", "released unsent: its dispatcher was stopping", now,
                      attempts=Touchpoint.__table__.c.attempts - 1) for tid in touchpoint_ids)


def mark_missed(now: datetime, worker: str = "scheduler") -> int:
    """Planned touchpoints whose send window closed (the scheduler was down for hours): marked
    missed and shown, never silently dropped and never sent late."""
    t = Touchpoint.__table__
    rows = db.session.execute(update(t).where(t.c.status == "planned", t.c.window_end_at < now)
                              .values(status="missed", updated_at=now, last_error="send window passed")
                              .returning(t.c.id)).all()
    _log([(tid, "planned", "missed") for (tid,) in rows], worker, "send window passed", now)
    db.session.commit()
    return len(rows)


def cancel(touchpoint_id: int, reason: str, now: datetime) -> None:
    touchpoint = db.session.get(Touchpoint, touchpoint_id)
    if touchpoint is None or (touchpoint.status, "cancelled") not in TRANSITIONS:
        raise InvalidTransition(f"{touchpoint.status if touchpoint else 'missing'} → cancelled")
    before = touchpoint.status
    # conditional on the status read above: a dispatcher that sends it meanwhile wins, and this refuses
    changed = db.session.execute(update(Touchpoint).where(Touchpoint.id == touchpoint_id, Touchpoint.status == before)
                                 .values(status="cancelled", lease_until=None, updated_at=now)).rowcount
    if not changed:
        db.session.rollback()
        raise InvalidTransition(f"{before} → cancelled: it changed meanwhile")
    _log([(touchpoint.id, before, "cancelled")], "", reason, now)
    db.session.commit()
    db.session.refresh(touchpoint)


def history(touchpoint_id: int) -> list[TouchpointTransition]:
    return list(db.session.scalars(select(TouchpointTransition).where(
        TouchpointTransition.touchpoint_id == touchpoint_id).order_by(TouchpointTransition.id)))


# --- reading -------------------------------------------------------------------------------------

@dataclass
class TouchpointFilters:
    account_id: int | None = None
    contact_id: int | None = None
    plan_id: int | None = None
    channel: str = ""
    status: str = ""
    due_from: datetime | None = None   # included
    due_to: datetime | None = None     # excluded


def find(filters: TouchpointFilters):
    """Touchpoints matching every filter given, as a statement to page: the latest due first."""
    from sqlalchemy.orm import selectinload

    t = Touchpoint
    query = select(t).options(selectinload(t.enrollment))
    if filters.account_id is not None:
        query = query.where(t.account_id == filters.account_id)
    if filters.contact_id is not None:
        query = query.where(t.contact_id == filters.contact_id)
    if filters.plan_id is not None:
        query = query.where(t.enrollment_id.in_(select(Enrollment.id).where(Enrollment.plan_id == filters.plan_id)))
    if filters.channel:
        query = query.where(t.channel == filters.channel)
    if filters.status:
        query = query.where(t.status == filters.status)
    if filters.due_from is not None:
        query = query.where(t.due_at >= filters.due_from)
    if filters.due_to is not None:
        query = query.where(t.due_at < filters.due_to)
    return query.order_by(t.due_at.desc(), t.id.desc())


def get(touchpoint_id: int) -> Touchpoint:
    touchpoint = db.session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise NotFound(_("That touchpoint does not exist."))
    return touchpoint


__all__ = ["TRANSITIONS", "schedule", "claim_due", "release", "mark_sent", "mark_failed", "mark_skipped", "retry_later",
           "mark_missed", "cancel", "history", "idempotency_key", "finish", "defer", "TouchpointFilters", "find", "get"]
