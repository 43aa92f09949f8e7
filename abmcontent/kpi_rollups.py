"""Daily KPI rollups, kept current by a recurring job, so long dashboard periods read days instead of
events (issue 6; bench/kpis.py).

What is kept (abmcontent.models.kpi_rollups)
--------------------------------------------
* kpi_days: per local day and event type, what people (``machine == ""``) did at known accounts:
  a count and the value total. The dashboard without a tier or plan reads a few rows a day.
* kpi_account_days: the same per account too. Keyed by ACCOUNT, not by tier, plan or target list:
  the dashboard joins the accounts and enrolments as they are now, so re-tiering an account,
  enrolling it in a plan or agreeing it as a target never leaves a rollup wrong and needs no
  rebuild. A tier's, a plan's or the target list's accounts are read by account (covering index).
* kpi_account_months: per account and month, the days people did something, as bits: accounts
  engaged in a period (distinct, so not a sum of days) from one row per account and month.
* kpi_lead_days: the contacts who filled in a form, per day and account (leads are distinct people).
* kpi_emails: every email touchpoint with its send time and day, and the LAST time a person opened
  and clicked it: open and click rates count emails by the day they were sent, whatever day the
  open came, and "opened in the period" is "last opened at or after the period's start".

Measured on bench/kpis.py (1M events, SQLite): the 90-day dashboard's engagement queries take
about a fifth of the CPU they took on the events' covering index.

How it stays exact
------------------
* Events are taken by id, above a watermark (events_through), never by time: events that occurred
  days ago but arrive now (spool replays) have new ids and land in the day they occurred.
* On PostgreSQL an insert can commit after a later id did. Ids missing at or below the watermark are
  kept as gaps and looked for again on every run for GAP_SECONDS (an insert batch never takes that
  long); ids that never come (a rolled-back batch, a replayed key the insert ignored) then expire.
* Sends are taken by sent_at, up to SEND_LAG before now, each run looking SEND_OVERLAP back again;
  if kpi_emails still holds fewer sends before the cut than the touchpoints (a dispatcher whose
  clock is far behind), the run adds them all again.
* The dashboard (abmcontent.kpis) adds to the rollups the events above the watermark and in the
  gaps, and the touchpoints sent from sends_through on, so it is exact whenever it is read. Every
  job transaction bumps a version: a dashboard that saw it change while reading reads again. It
  also checks that kpi_emails holds every send it relies on, and reads the touchpoints if not.
* Local days are in the time zone recorded in the state row. When the configured zone differs,
  the next run empties the rollups and rebuilds them; meanwhile the dashboard reads events only.
* One roller at a time: a lease on the state row taken by an atomic conditional UPDATE, renewed
  and checked (fenced) at the start of every chunk's transaction, which also holds the state row's
  lock until it commits. Each chunk moves the watermark in the same transaction as its sums, so a
  crash or a lost lease leaves nothing counted twice.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import (Date, Integer, and_, case, cast, delete, distinct, extract, func, insert, literal, or_, select,
                        update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from abmcontent.extensions import db
from abmcontent.models import (EVENT_TYPES, EngagementEvent, KpiAccountDay, KpiAccountMonth, KpiDay, KpiEmail, KpiLeadDay,
                               KpiRollupGap, KpiRollupState, Touchpoint)

UTC = timezone.utc
STATE_ID = 1
CHUNK = 100_000                      # event ids per transaction
LEASE = timedelta(minutes=5)
GAP_SECONDS = 600
MAX_GAPS = 1000                      # beyond this many open gaps the oldest are given up
SEND_LAG = timedelta(minutes=2)      # a send commits within this of its sent_at
SEND_OVERLAP = timedelta(hours=1)    # ... and each run looks this far back again for late ones
TAIL_LIMIT = 50_000                  # more unrolled events than this: the dashboard reads events only


class LeaseLost(Exception):
    """Another roller holds the state row now (ours ran out): stop without writing."""


@dataclass(frozen=True)
class RollReport:
    claimed: bool
    events: int = 0       # events read (people's and machines')
    sends: int = 0        # email sends added
    gaps: int = 0         # open gaps after the run
    rebuilt: bool = False
    through: int = 0


# --- local days --------------------------------------------------------------------------------

def _offset(zone: ZoneInfo, epoch: int) -> int:
    return int(datetime.fromtimestamp(epoch, zone).utcoffset().total_seconds())


def offset_changes(tz: str, low: datetime, high: datetime) -> tuple[int, list[tuple[datetime, int]]]:
    """The zone's UTC offset (seconds) at `low` and every (instant, new offset) before `high`.
    Zones change on whole seconds: a day's steps and then halving find each change exactly."""
    zone = ZoneInfo(tz)
    start, end = int(low.timestamp()), int(high.timestamp()) + 1
    first = current = _offset(zone, start)
    changes: list[tuple[datetime, int]] = []
    at = start
    while at < end:
        step = min(at + 86_400, end)
        if _offset(zone, step) == current:
            at = step
            continue
        before, after = at, step  # current offset at `before`, another at `after`
        while after - before > 1:
            middle = (before + after) // 2
            before, after = (before, middle) if _offset(zone, middle) != current else (middle, after)
        current = _offset(zone, after)
        changes.append((datetime.fromtimestamp(after, UTC), current))
        at = after
    return first, changes


def local_day(column, tz: str, low: datetime, high: datetime):
    """The calendar day in `tz` of a UTC timestamp column, exact for instants in [low, high).
    PostgreSQL knows zones; SQLite gets the offsets of that span, clock changes included."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone(tz, column))
    first, changes = offset_changes(tz, low, high)
    if not changes:
        return func.date(column, f"{first:+d} seconds")
    offsets = [first] + [offset for _at, offset in changes]
    shift = case(*[(column < at, f"{offsets[n]:+d} seconds") for n, (at, _o) in enumerate(changes)],
                 else_=f"{offsets[-1]:+d} seconds")
    return func.date(column, shift)


# --- what the dashboard adds to the rollups -----------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """What the rollups held when the dashboard looked: read figures with it, then check
    unchanged(); the job may have moved on meanwhile."""
    version: int
    timezone: str
    events_through: int
    gaps: tuple[tuple[int, int], ...]
    sends_through: datetime | None

    def unrolled(self):
        """The condition on events not in the rollups: above the watermark, or in a gap."""
        e = EngagementEvent
        return or_(e.id > self.events_through, *[and_(e.id >= a, e.id <= b) for a, b in self.gaps])

    def events(self):
        """Those events' columns, read by id first: a materialized CTE, so that the database never
        reaches for a time index over the whole period instead."""
        e = EngagementEvent
        return (select(e.id, e.type, e.occurred_at, e.account_id, e.contact_id, e.value, e.machine, e.touchpoint_id)
                .where(self.unrolled()).cte("unrolled").prefix_with("MATERIALIZED"))


def snapshot(tz: str) -> Snapshot | None:
    """The rollups' state if they are in `tz` and current enough that reading them beats reading
    the events (at most TAIL_LIMIT events behind); None otherwise."""
    s = KpiRollupState
    row = db.session.execute(select(s.version, s.timezone, s.events_through, s.sends_through)
                             .where(s.id == STATE_ID)).first()
    if row is None or row.timezone != tz:
        return None
    newest = db.session.scalar(select(func.max(EngagementEvent.id))) or 0
    if newest - row.events_through > TAIL_LIMIT:
        return None
    gaps = tuple((a, b) for a, b in db.session.execute(select(KpiRollupGap.first_id, KpiRollupGap.last_id)))
    return Snapshot(row.version, row.timezone, row.events_through, gaps, row.sends_through)


def unchanged(seen: Snapshot) -> bool:
    return db.session.scalar(select(KpiRollupState.version).where(KpiRollupState.id == STATE_ID)) == seen.version


# --- the job --------------------------------------------------------------------------------------

def _upsert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model.__table__)


def _later(mine, theirs):
    """The later of two nullable timestamps (SQLite's max() is NULL if either is)."""
    return case((theirs.is_(None), mine), (or_(mine.is_(None), theirs > mine), theirs), else_=mine)


def _claim(tz: str, worker: str, now: datetime) -> bool:
    s = KpiRollupState
    db.session.execute(_upsert(s).values(id=STATE_ID, timezone=tz, events_through=0, leased_by="", version=0)
                       .on_conflict_do_nothing(index_elements=["id"]))
    db.session.commit()
    claimed = db.session.execute(update(s).where(s.id == STATE_ID, or_(s.lease_until.is_(None), s.lease_until < now))
                                 .values(leased_by=worker, lease_until=now + LEASE)).rowcount
    db.session.commit()
    return bool(claimed)


def _fence(worker: str, now: datetime):
    """Renew our lease and lock the state row for this transaction, or raise LeaseLost."""
    s = KpiRollupState
    held = db.session.execute(update(s).where(s.id == STATE_ID, s.leased_by == worker)
                              .values(lease_until=now + LEASE, version=s.version + 1)).rowcount
    if not held:
        db.session.rollback()
        raise LeaseLost(worker)
    return db.session.execute(select(s.timezone, s.events_through, s.sends_through).where(s.id == STATE_ID)).one()


def _release(worker: str) -> None:
    s = KpiRollupState
    db.session.rollback()
    db.session.execute(update(s).where(s.id == STATE_ID, s.leased_by == worker).values(leased_by="", lease_until=None))
    db.session.commit()


def _reset(tz: str, worker: str, now: datetime) -> bool:
    """Empty the rollups when their days were counted in another time zone."""
    state = _fence(worker, now)
    if state.timezone == tz:
        db.session.commit()
        return False
    for model in (KpiDay, KpiAccountDay, KpiAccountMonth, KpiLeadDay, KpiEmail, KpiRollupGap):
        db.session.execute(delete(model))
    db.session.execute(update(KpiRollupState).where(KpiRollupState.id == STATE_ID)
                       .values(timezone=tz, events_through=0, sends_through=None))
    db.session.commit()
    return True


def _roll_sends(tz: str, worker: str, now: datetime, lease_now: datetime) -> int:
    """Email touchpoints sent since the last run (and SEND_OVERLAP before it), up to SEND_LAG ago."""
    state = _fence(worker, lease_now)
    t, k = Touchpoint, KpiEmail
    cut = now - SEND_LAG
    if state.sends_through is not None and cut <= state.sends_through:
        db.session.commit()
        return 0
    before_cut = [t.channel == "email", t.sent_at < cut]
    since = [] if state.sends_through is None else [t.sent_at >= state.sends_through - SEND_OVERLAP]
    added = _add_sends(tz, [*before_cut, *since])
    # sends committed even later (a dispatcher's clock far behind): found by two index-only counts
    if db.session.scalar(select(func.count()).select_from(t).where(*before_cut)) != \
            db.session.scalar(select(func.count()).select_from(k).where(k.sent_at < cut)):
        added += _add_sends(tz, before_cut)
    db.session.execute(update(KpiRollupState).where(KpiRollupState.id == STATE_ID).values(sends_through=cut))
    db.session.commit()
    return added


def _add_sends(tz: str, conditions: list) -> int:
    """Put the email touchpoints that meet `conditions` in kpi_emails (rows an open put there
    before the send was known get its time)."""
    t, k = Touchpoint, KpiEmail
    low, high = db.session.execute(select(func.min(t.sent_at), func.max(t.sent_at)).where(*conditions)).one()
    if low is None:
        return 0
    day = local_day(t.sent_at, tz, low, high + timedelta(microseconds=1))
    statement = _upsert(k).from_select(["touchpoint_id", "account_id", "sent_at", "sent_day"],
                                       select(t.id, t.account_id, t.sent_at, day).where(*conditions))
    excluded = statement.excluded
    return max(db.session.execute(statement.on_conflict_do_update(
        index_elements=["touchpoint_id"],
        set_={"sent_at": excluded.sent_at, "sent_day": excluded.sent_day, "account_id": excluded.account_id},
        where=k.sent_at.is_(None)).execution_options(preserve_rowcount=True)).rowcount, 0)


def _month_and_bit(day):
    """The first day of a local day's month, and the day's bit in KpiAccountMonth.days."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.date_trunc("month", day), Date), literal(1).op("<<")(cast(extract("day", day), Integer) - 1)
    return func.date(day, "start of month"), literal(1).op("<<")(cast(func.strftime("%d", day), Integer) - 1)


def _missing(present: list[int], first: int, last: int) -> list[tuple[int, int]]:
    """The ranges of ids in [first, last] not in `present` (sorted)."""
    found, expected = [], first
    for n in present:
        if n > expected:
            found.append((expected, n - 1))
        expected = n + 1
    if expected <= last:
        found.append((expected, last))
    return found


def _roll_events(tz: str, worker: str, now: datetime, chunk: int) -> tuple[int, bool]:
    """One transaction: the next `chunk` event ids and whatever has appeared in the gaps."""
    state = _fence(worker, now)
    e, g = EngagementEvent, KpiRollupGap
    through = state.events_through
    newest = db.session.scalar(select(func.max(e.id))) or 0
    upto = max(min(newest, through + chunk), through)
    gaps = db.session.execute(select(g.first_id, g.last_id, g.seen_at)).all()
    if upto == through and not gaps:
        db.session.commit()
        return 0, False
    taken = or_(and_(e.id > through, e.id <= upto), *[and_(e.id >= a, e.id <= b) for a, b, _s in gaps])
    people = [taken, e.machine == "", e.account_id.is_not(None)]
    low, high = db.session.execute(select(func.min(e.occurred_at), func.max(e.occurred_at)).where(*people)).one()
    if low is not None:
        day = local_day(e.occurred_at, tz, low, high + timedelta(microseconds=1))
        days = _upsert(KpiAccountDay).from_select(
            ["day", "type", "account_id", "events", "value"],
            select(day, e.type, e.account_id, func.count(), func.coalesce(func.sum(e.value), 0.0))
            .where(*people).group_by(day, e.type, e.account_id))
        db.session.execute(days.on_conflict_do_update(
            index_elements=["day", "type", "account_id"],
            set_={"events": KpiAccountDay.events + days.excluded.events,
                  "value": KpiAccountDay.value + days.excluded.value}))
        totals = _upsert(KpiDay).from_select(
            ["day", "type", "events", "value"],
            select(day, e.type, func.count(), func.coalesce(func.sum(e.value), 0.0)).where(*people)
            .group_by(day, e.type))
        db.session.execute(totals.on_conflict_do_update(
            index_elements=["day", "type"],
            set_={"events": KpiDay.events + totals.excluded.events, "value": KpiDay.value + totals.excluded.value}))
        month, bit = _month_and_bit(day)
        months = _upsert(KpiAccountMonth).from_select(
            ["month", "account_id", "days"],
            select(month, e.account_id, func.sum(distinct(bit))).where(*people, e.type.in_(EVENT_TYPES))
            .group_by(month, e.account_id))  # a sum of distinct powers of two is their OR
        db.session.execute(months.on_conflict_do_update(
            index_elements=["month", "account_id"],
            set_={"days": KpiAccountMonth.days.op("|")(months.excluded.days)}))
        leads = _upsert(KpiLeadDay).from_select(
            ["day", "account_id", "contact_id"],
            select(day, e.account_id, e.contact_id).where(*people, e.type == "form_fill", e.contact_id.is_not(None))
            .distinct())
        db.session.execute(leads.on_conflict_do_nothing(index_elements=["day", "account_id", "contact_id"]))
    t = Touchpoint
    opened = func.max(case((e.type == "email_open", e.occurred_at)))
    clicked = func.max(case((e.type == "email_click", e.occurred_at)))
    emails = _upsert(KpiEmail).from_select(
        ["touchpoint_id", "account_id", "opened_at", "clicked_at"],
        select(t.id, t.account_id, opened, clicked).select_from(e).join(t, t.id == e.touchpoint_id)
        .where(taken, e.type.in_(("email_open", "email_click")), e.machine == "", t.channel == "email")
        .group_by(t.id, t.account_id))
    db.session.execute(emails.on_conflict_do_update(
        index_elements=["touchpoint_id"],
        set_={"opened_at": _later(KpiEmail.opened_at, emails.excluded.opened_at),
              "clicked_at": _later(KpiEmail.clicked_at, emails.excluded.clicked_at)}))
    # the ids this chunk expected and did not find become gaps; found ones leave theirs
    read = db.session.scalar(select(func.count()).select_from(e).where(taken)) or 0
    fresh = []
    if db.session.scalar(select(func.count()).select_from(e).where(e.id > through, e.id <= upto)) != upto - through:
        present = list(db.session.scalars(select(e.id).where(e.id > through, e.id <= upto).order_by(e.id)))
        fresh = [(a, b, now) for a, b in _missing(present, through + 1, upto)]
    kept = []
    for first, last, seen in gaps:
        if seen < now - timedelta(seconds=GAP_SECONDS):
            continue  # given up: an id that never came
        present = list(db.session.scalars(select(e.id).where(e.id >= first, e.id <= last).order_by(e.id)))
        kept += [(a, b, seen) for a, b in _missing(present, first, last)]
    if gaps:
        db.session.execute(delete(g))
    remaining = sorted(kept + fresh, key=lambda gap: gap[2])[-MAX_GAPS:]
    if remaining:
        db.session.execute(insert(g), [{"first_id": a, "last_id": b, "seen_at": s} for a, b, s in remaining])
    db.session.execute(update(KpiRollupState).where(KpiRollupState.id == STATE_ID)
                       .values(events_through=upto, rolled_at=now))
    db.session.commit()
    return read, upto < newest


def roll(tz: str, now: datetime, worker: str = "", chunk: int = CHUNK, max_chunks: int | None = None) -> RollReport:
    """Bring the rollups up to the events and sends in the database: the recurring job, and
    `flask kpis rollup`. Another process rolling already: returns at once (claimed False)."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not _claim(tz, worker, now):
        return RollReport(claimed=False)
    started = time.monotonic()

    def clock() -> datetime:  # the lease runs on while a long build goes on
        return now + timedelta(seconds=time.monotonic() - started)

    events = sends = 0
    try:
        rebuilt = _reset(tz, worker, clock())
        sends = _roll_sends(tz, worker, now, clock())
        rounds = 0
        while max_chunks is None or rounds < max_chunks:
            read, more = _roll_events(tz, worker, clock(), chunk)
            events += read
            rounds += 1
            if not more:
                break
    except LeaseLost:
        return RollReport(claimed=True, events=events, sends=sends)
    finally:
        _release(worker)
    state = db.session.execute(select(KpiRollupState.events_through)).scalar()
    gaps = db.session.scalar(select(func.count()).select_from(KpiRollupGap)) or 0
    return RollReport(True, events, sends, gaps, rebuilt, state or 0)
