"""What the dispatcher checks before a touchpoint goes out, beyond the channel's own rules.

In order: the plan stops for an account once someone there booked a meeting or replied (the
step's ``stop_on``); a step skips a stakeholder who already engaged with its asset
(``skip_if_engaged``); an empty asset slot is filled by matching for that stakeholder; and the
account's frequency cap (FREQUENCY_CAP touches in FREQUENCY_DAYS across all its people and
channels) pushes a touchpoint later, or marks it missed if that is past its send window.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from abmcontent import engagement, matching
from abmcontent.extensions import db
from abmcontent.models import EngagementEvent, Enrollment, Touchpoint
from abmcontent.models.engagement import CONSUMED_TYPES

STOP_EVENTS = ("meeting_booked", "reply")


@dataclass(frozen=True)
class Verdict:
    action: str                 # go, skip, stop (the enrollment), later, missed
    reason: str = ""
    until: datetime | None = None


def stop_plan(enrollment_id: int, reason: str) -> None:
    db.session.execute(update(Enrollment).where(Enrollment.id == enrollment_id, Enrollment.status == "active")
                       .values(status="stopped", reason=reason[:300]))
    db.session.commit()


def recent_sends(account_ids, now: datetime, days: int, worker: str = "") -> dict[int, list[datetime]]:
    """For a batch, in one query: each account's sends in the last `days`, oldest first, and
    what other dispatchers hold claimed right now (counted as sent now: they are about to be).
    The dispatcher appends its own sends as it goes, so the cap holds inside a batch and
    across dispatchers working at the same time."""
    from sqlalchemy import and_, or_

    recent: dict[int, list[datetime]] = {}
    for account_id, sent_at in db.session.execute(
            select(Touchpoint.account_id, Touchpoint.sent_at).where(
                Touchpoint.account_id.in_(set(account_ids)),
                or_(and_(Touchpoint.status == "sent", Touchpoint.sent_at > now - timedelta(days=days)),
                    and_(Touchpoint.status == "claimed", Touchpoint.claimed_by != worker,
                         Touchpoint.lease_until > now)))):
        recent.setdefault(account_id, []).append(sent_at or now)
    for times in recent.values():
        times.sort()
    return recent


def check(touchpoint: Touchpoint, now: datetime, cap: int, days: int,
          recent: dict[int, list[datetime]] | None = None) -> Verdict:
    step = touchpoint.step
    conditions = (step.conditions or {}) if step is not None else {}
    enrollment = touchpoint.enrollment
    stop_on = [e for e in conditions.get("stop_on", []) if e in STOP_EVENTS]
    if enrollment is not None and stop_on:
        hit = db.session.scalar(select(EngagementEvent.type).where(
            EngagementEvent.account_id == touchpoint.account_id, EngagementEvent.type.in_(stop_on),
            EngagementEvent.occurred_at >= enrollment.started_at).limit(1))
        if hit:
            return Verdict("stop", f"the plan stopped for this account: {hit.replace('_', ' ')}")
    if conditions.get("skip_if_engaged") and touchpoint.asset_id and touchpoint.contact_id:
        engaged = db.session.scalar(select(EngagementEvent.id).where(
            EngagementEvent.contact_id == touchpoint.contact_id, EngagementEvent.asset_id == touchpoint.asset_id,
            EngagementEvent.type.in_(CONSUMED_TYPES)).limit(1))
        if engaged:
            return Verdict("skip", "the stakeholder already engaged with this asset")
    if cap > 0:
        if recent is None:
            recent = recent_sends([touchpoint.account_id], now, days)
        sent = [at for at in recent.get(touchpoint.account_id, ()) if at > now - timedelta(days=days)]
        if len(sent) >= cap:
            until = sent[-cap] + timedelta(days=days)
            reason = f"frequency cap: {cap} touches in {days} days for this account"
            if until > touchpoint.window_end_at:
                return Verdict("missed", reason + "; the next free slot is past the send window")
            return Verdict("later", reason, until)
    return Verdict("go")


def fill_slot(touchpoint: Touchpoint, now: datetime) -> int | None:
    """An empty asset slot: the best published asset for this stakeholder now, never one they
    already consumed. Returns the asset id (None when nothing fits)."""
    if touchpoint.asset_id or touchpoint.contact is None:
        return touchpoint.asset_id
    seen = set(engagement.consumed_assets(touchpoint.contact_id))
    seen |= set(db.session.scalars(select(Touchpoint.asset_id).where(
        Touchpoint.contact_id == touchpoint.contact_id, Touchpoint.status == "sent",
        Touchpoint.asset_id.is_not(None))))
    request = matching.request_for(touchpoint.account, touchpoint.contact, exclude=seen, limit=1)
    picks = matching.index_for_app().recommend(request, now)
    return picks[0].asset_id if picks else None


__all__ = ["Verdict", "check", "fill_slot", "stop_plan"]
