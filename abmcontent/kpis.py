"""The ABM KPIs for a period, a tier and a plan, and ABM against general marketing (issue 6).

What each figure means (the dashboard says it too, and the tests compute it by hand):

* Engagement counts only what people did (``machine == ""``) at known accounts, in the period.
* MQAs: accounts that first became marketing-qualified in the period (abmcontent.milestones keeps
  the date, so an edited rule or a faded score does not rewrite last quarter).
* Leads: distinct contacts who filled in a form; cost per lead = spend ÷ leads.
* Email open (click) rate: emails sent in the period that a person opened (clicked), ÷ emails sent.
* Time on page: seconds on pages ÷ page views.
* Per-account figures (contacts, engagement points, meetings) divide by the target accounts (the
  agreed target list) in scope; engagement points use the scoring weights without decay.
* Deals: proposals sent, won and lost in the period; close rate = won ÷ (won + lost); average
  selling price = won amount ÷ deals won; sales cycle = days from created to won; pipeline
  velocity = open deals × average selling price × close rate ÷ sales cycle (money a day).
* Churn: won deals that churned in the period ÷ won deals live at its start.
* Marketing influence: deals created in the period whose account engaged (a person) or was sent a
  touchpoint in the INFLUENCE_DAYS before the deal was created.
* The funnel: of the target accounts in scope, how many had engaged, become an MQA, opened a deal
  and won one by the period's end, each stage counted within the one before.
* ABM against general: ABM is the agreed target list and the "abm" spend; general marketing is
  every other account and the "general" spend. ROI = (revenue − spend) ÷ spend.

Periods are calendar days in the organisation's time zone (TIMEZONE). Everything is computed with
a handful of grouped queries when the page is asked for (bench/kpis.py); what people did and the
email rates come from daily rollups (abmcontent.kpi_rollups) plus the events and sends the rollups
do not hold yet, so the figures are the same as from the events alone, only faster.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, case, cast, distinct, exists, func, literal, null, or_, select, union, union_all

from abmcontent import engagement_scoring, kpi_rollups
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import (EVENT_TYPES, Account, AccountMilestone, Contact, Deal, EngagementEvent, Enrollment,
                               KpiAccountDay, KpiAccountMonth, KpiDay, KpiEmail, KpiLeadDay, Plan, Spend, Touchpoint)

UTC = timezone.utc
INFLUENCE_DAYS = 90
MAX_DAYS = 3 * 366
WEEKLY_UP_TO_DAYS = 26 * 7  # longer periods are shown by month

PERIODS = {
    "30d": _l("Last 30 days"), "90d": _l("Last 90 days"), "this_quarter": _l("This quarter"),
    "last_quarter": _l("Last quarter"), "this_year": _l("This year"), "custom": _l("Custom dates"),
}

# key → (label, unit). Units: count, money, percent, seconds, ratio, days, money_per_day
KPIS = {
    "mqas": (_l("MQAs"), "count"),
    "engaged_accounts": (_l("Engaged accounts"), "count"),
    "leads": (_l("Leads (people who filled in a form)"), "count"),
    "cost_per_lead": (_l("Cost per lead"), "money"),
    "time_on_page": (_l("Time on page, per view"), "seconds"),
    "emails_sent": (_l("Emails sent"), "count"),
    "open_rate": (_l("Email open rate"), "percent"),
    "click_rate": (_l("Email click rate"), "percent"),
    "contacts_per_account": (_l("Contacts per target account"), "ratio"),
    "engagement_per_account": (_l("Engagement points per target account"), "ratio"),
    "meetings_per_account": (_l("Meetings per target account"), "ratio"),
    "proposals_sent": (_l("Proposals sent"), "count"),
    "deals_won": (_l("Deals won"), "count"),
    "revenue": (_l("Revenue won"), "money"),
    "close_rate": (_l("Close rate"), "percent"),
    "churn_rate": (_l("Churn"), "percent"),
    "average_selling_price": (_l("Average selling price"), "money"),
    "sales_cycle_days": (_l("Sales cycle"), "days"),
    "pipeline_velocity": (_l("Pipeline velocity"), "money_per_day"),
    "influence_rate": (_l("Marketing influence rate"), "percent"),
}

FUNNEL = {
    "targeted": _l("Target accounts"), "engaged": _l("Engaged"), "mqa": _l("MQA"),
    "opportunity": _l("Opportunity"), "won": _l("Won"),
}


@dataclass(frozen=True)
class Scope:
    start: date
    end: date                  # the last day, included
    tier: int | None = None
    plan_id: int | None = None
    tz: str = "UTC"
    period: str = "custom"

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants, the end excluded."""
        zone = ZoneInfo(self.tz)
        return (datetime.combine(self.start, time(), zone).astimezone(UTC),
                datetime.combine(self.end + timedelta(days=1), time(), zone).astimezone(UTC))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse_scope(period: str, start: str, end: str, tier: str, plan: str, today: date, tz: str) -> Scope:
    """The scope from the dashboard's filters; unknown values are errors a marketer can act on."""
    errors: dict[str, list[str]] = {}
    period = period or "90d"
    if period == "30d":
        first, last = today - timedelta(days=29), today
    elif period == "90d":
        first, last = today - timedelta(days=89), today
    elif period == "this_quarter":
        first, last = _quarter_start(today), today
    elif period == "last_quarter":
        last = _quarter_start(today) - timedelta(days=1)
        first = _quarter_start(last)
    elif period == "this_year":
        first, last = date(today.year, 1, 1), today
    elif period == "custom":
        first, last = _parse_day(start or ""), _parse_day(end or "")
        if first is None:
            errors["start"] = [_("Enter the first day as YYYY-MM-DD.")]
        if last is None:
            errors["end"] = [_("Enter the last day as YYYY-MM-DD.")]
        if first and last and last < first:
            errors["end"] = [_("The last day comes before the first.")]
        elif first and last and (last - first).days >= MAX_DAYS:
            errors["end"] = [_("Choose at most three years.")]
    else:
        errors["period"] = [_("Choose a period from the list.")]
        first = last = today
    tier_value = None
    if tier:
        if tier in ("1", "2", "3"):
            tier_value = int(tier)
        else:
            errors["tier"] = [_("Choose tier 1, 2 or 3.")]
    plan_value = None
    if plan:
        if plan.isdigit() and len(plan) < 10 and db.session.get(Plan, int(plan)) is not None:
            plan_value = int(plan)
        else:
            errors["plan"] = [_("That plan no longer exists.")]
    if errors:
        raise ValidationError(errors)
    return Scope(first, last, tier_value, plan_value, tz, period)


# --- building blocks --------------------------------------------------------------------------

def _scoped_accounts(scope: Scope):
    """A subquery of the account ids in scope, or None when every account is."""
    if scope.tier is None and scope.plan_id is None:
        return None
    query = select(Account.id)
    if scope.tier is not None:
        query = query.where(Account.tier == scope.tier)
    if scope.plan_id is not None:
        query = query.where(Account.id.in_(select(Enrollment.account_id).where(Enrollment.plan_id == scope.plan_id)))
    return query


def _where_scope(column, scope: Scope) -> list:
    accounts = _scoped_accounts(scope)
    return [] if accounts is None else [column.in_(accounts)]


def _local_day(column, scope: Scope):
    """The calendar day of a UTC timestamp in the organisation's zone, clock changes included."""
    low, high = scope.bounds()
    return kpi_rollups.local_day(column, scope.tz, low, high)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Bucket:
    start: date
    end: date  # included


def buckets(scope: Scope) -> list[Bucket]:
    """Weeks (from the period's first day) for up to 26 weeks, calendar months beyond."""
    found: list[Bucket] = []
    if scope.days <= WEEKLY_UP_TO_DAYS:
        day = scope.start
        while day <= scope.end:
            found.append(Bucket(day, min(day + timedelta(days=6), scope.end)))
            day += timedelta(days=7)
        return found
    day = scope.start
    while day <= scope.end:
        next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        found.append(Bucket(day, min(next_month - timedelta(days=1), scope.end)))
        day = next_month
    return found


def _bucket_of(scope: Scope, spans: list[Bucket]):
    if scope.days <= WEEKLY_UP_TO_DAYS:
        return lambda day: min((_as_date(day) - scope.start).days // 7, len(spans) - 1)
    index = {(b.start.year, b.start.month): n for n, b in enumerate(spans)}
    return lambda day: index[(_as_date(day).year, _as_date(day).month)]


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom else None


# --- deals: the pure part ------------------------------------------------------------------------

@dataclass(frozen=True)
class DealRow:
    account_id: int
    stage: str
    amount: int | None
    created_on: date
    proposal_sent_on: date | None
    closed_on: date | None
    churned_on: date | None


def deal_figures(deals: list[DealRow], start: date, end: date) -> dict[str, float | None]:
    """Deal KPIs over [start, end] from plain rows (tested with hand-computed values)."""
    def within(day: date | None) -> bool:
        return day is not None and start <= day <= end

    won = [d for d in deals if d.stage == "closed_won" and within(d.closed_on)]
    lost = [d for d in deals if d.stage == "closed_lost" and within(d.closed_on)]
    revenue = sum(d.amount or 0 for d in won)
    cycle = _ratio(sum((d.closed_on - d.created_on).days for d in won), len(won))
    close_rate = _ratio(len(won), len(won) + len(lost))
    asp = _ratio(revenue, len(won))
    open_at_end = [d for d in deals if d.created_on <= end and (d.closed_on is None or d.closed_on > end)]
    velocity = None
    if asp is not None and close_rate is not None and cycle:
        velocity = len(open_at_end) * asp * close_rate / cycle
    live_at_start = [d for d in deals if d.stage == "closed_won" and d.closed_on is not None and d.closed_on < start
                     and (d.churned_on is None or d.churned_on >= start)]
    churned = [d for d in live_at_start if within(d.churned_on)]
    return {
        "proposals_sent": sum(1 for d in deals if within(d.proposal_sent_on)),
        "deals_created": sum(1 for d in deals if within(d.created_on)),
        "deals_won": len(won), "deals_lost": len(lost), "revenue": revenue,
        "close_rate": close_rate, "average_selling_price": asp, "sales_cycle_days": cycle,
        "open_deals": len(open_at_end), "pipeline_velocity": velocity,
        "churn_rate": _ratio(len(churned), len(live_at_start)),
    }


def _deals(scope: Scope) -> list[DealRow]:
    d = Deal
    rows = db.session.execute(select(d.account_id, d.stage, d.amount, d.created_on, d.proposal_sent_on,
                                     d.closed_on, d.churned_on)
                              .where(d.created_on <= scope.end, *_where_scope(d.account_id, scope))).all()
    return [DealRow(*row) for row in rows]


# --- the dashboard -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kpi:
    key: str
    value: float | None
    detail: str = ""

    @property
    def label(self) -> str:
        return str(KPIS[self.key][0])

    @property
    def unit(self) -> str:
        return KPIS[self.key][1]


@dataclass(frozen=True)
class Series:
    key: str
    values: list[float | None]


@dataclass(frozen=True)
class FunnelStage:
    key: str
    count: int
    conversion: float | None  # of the stage before

    @property
    def label(self) -> str:
        return str(FUNNEL[self.key])


@dataclass
class Dashboard:
    scope: Scope
    kpis: dict[str, Kpi]
    buckets: list[Bucket]
    series: dict[str, Series]
    funnel: list[FunnelStage]
    spend: int
    targeted: int
    empty: bool = False
    notes: list[str] = field(default_factory=list)


def _people_in_period(scope: Scope, e=EngagementEvent) -> list:
    """What every engagement figure counts: events people made at known accounts in scope, in the period.
    `e`: the events table, or the columns of the events not rolled up yet (kpi_rollups.Snapshot.events)."""
    low, high = scope.bounds()
    by_people = engagement_scoring.by_people() if e is EngagementEvent else e.machine == ""
    return [e.occurred_at >= low, e.occurred_at < high, by_people, e.account_id.is_not(None),
            *_where_scope(e.account_id, scope)]


def _rolled_days(scope: Scope, *conditions):
    """Rollup rows in the period's days and scope (the rollups' days are the scope's zone's)."""
    r = KpiAccountDay
    return [r.day >= scope.start, r.day <= scope.end, *_where_scope(r.account_id, scope), *conditions]


def _merged(rows) -> list[tuple]:
    """(key, count, value total) rows from rollups and from events, summed by key: points cap time
    on page per key, so they must see one total, as they do without rollups. In key order, so that
    floating-point sums come out the same whatever order the database gave."""
    found: dict = {}
    for key, count, value_total in rows:
        slot = found.setdefault(key, [0, None])
        slot[0] += count
        if value_total is not None:
            slot[1] = (slot[1] or 0.0) + value_total
    return sorted((key, tuple(slot)) for key, slot in found.items())


def _event_totals(scope: Scope, spans: list[Bucket], rolled: kpi_rollups.Snapshot | None = None
                  ) -> tuple[dict[str, tuple[int, float]], dict[str, list[float]]]:
    """Per event type: (count, value total) over the period and counts per bucket."""
    def grouped(e):
        day = _local_day(e.occurred_at, scope)
        return select(e.type, day, func.count(), func.sum(e.value)).where(*_people_in_period(scope, e)) \
            .group_by(e.type, day)

    if rolled is None:
        rows = db.session.execute(grouped(EngagementEvent)).all()
    elif _scoped_accounts(scope) is None:  # every account: a few rows a day
        d = KpiDay
        rows = db.session.execute(union_all(
            select(d.type, d.day, d.events, d.value).where(d.day >= scope.start, d.day <= scope.end),
            grouped(rolled.events().c))).all()
    else:
        r = KpiAccountDay
        rows = db.session.execute(union_all(
            select(r.type, r.day, func.sum(r.events), func.sum(r.value)).where(*_rolled_days(scope))
            .group_by(r.day, r.type),
            grouped(rolled.events().c))).all()
    totals: dict[str, tuple[int, float]] = {}
    per_bucket: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(spans))
    which = _bucket_of(scope, spans)
    weights = engagement_scoring.settings().weights
    for (kind, when), (count, value_total) in _merged(((kind, _as_date(when)), n, v) for kind, when, n, v in rows):
        n, v = totals.get(kind, (0, 0.0))
        totals[kind] = (n + count, v + (value_total or 0.0))
        slot = which(when)
        per_bucket[kind][slot] += count
        per_bucket["_points"][slot] += engagement_scoring.points(kind, count, value_total, weights)
    return totals, per_bucket


def _distinct(column, scope: Scope, *conditions) -> int:
    kinds = [] if conditions else [EngagementEvent.type.in_(EVENT_TYPES)]  # the planner reads only the covering index
    return db.session.scalar(select(func.count(distinct(column))).where(
        *_people_in_period(scope), *conditions, *kinds)) or 0


def _months_with_days(m, scope: Scope) -> list:
    """KpiAccountMonth rows with a day in the period: the months it touches, the first and last
    only on the period's days."""
    def bits(first: int, last: int) -> int:  # days first..last of a month
        return (1 << last) - (1 << (first - 1))

    first_month, last_month = scope.start.replace(day=1), scope.end.replace(day=1)
    if first_month == last_month:
        wanted = literal(bits(scope.start.day, scope.end.day))
    else:
        wanted = case((m.month == first_month, bits(scope.start.day, 31)), (m.month == last_month, bits(1, scope.end.day)),
                      else_=bits(1, 31))
    return [m.month >= first_month, m.month <= last_month, m.days.op("&")(wanted) != 0]


def _engaged_accounts(scope: Scope, rolled: kpi_rollups.Snapshot | None) -> int:
    """Accounts where people did something in the period."""
    if rolled is None:
        return _distinct(EngagementEvent.account_id, scope)
    m, tail = KpiAccountMonth, rolled.events().c
    accounts = union(select(m.account_id).where(*_months_with_days(m, scope), *_where_scope(m.account_id, scope)),
                     select(tail.account_id).where(*_people_in_period(scope, tail), tail.type.in_(EVENT_TYPES)))
    return db.session.scalar(select(func.count()).select_from(accounts.subquery())) or 0


def _leads(scope: Scope, rolled: kpi_rollups.Snapshot | None) -> int:
    """People (contacts) who filled in a form in the period."""
    def forms(e) -> list:
        return [e.type == "form_fill", e.contact_id.is_not(None)]

    if rolled is None:
        return _distinct(EngagementEvent.contact_id, scope, *forms(EngagementEvent))
    lead, tail = KpiLeadDay, rolled.events().c
    contacts = union(
        select(lead.contact_id).where(lead.day >= scope.start, lead.day <= scope.end,
                                      *_where_scope(lead.account_id, scope)),
        select(tail.contact_id).where(*_people_in_period(scope, tail), *forms(tail)))
    return db.session.scalar(select(func.count()).select_from(contacts.subquery())) or 0


def _emails(scope: Scope, spans: list[Bucket], rolled: kpi_rollups.Snapshot | None = None) -> dict[str, list[int]]:
    """Emails sent per bucket, and of those the ones a person opened and clicked."""
    if rolled is not None:
        found = _emails_rolled(scope, spans, rolled)
        if found is not None:
            return found
    t, e = Touchpoint, EngagementEvent
    low, high = scope.bounds()
    sent_in_period = [t.channel == "email", t.sent_at >= low, t.sent_at < high, *_where_scope(t.account_id, scope)]
    day = _local_day(t.sent_at, scope)
    which = _bucket_of(scope, spans)
    found = {"sent": [0] * len(spans), "opened": [0] * len(spans), "clicked": [0] * len(spans)}
    for when, count in db.session.execute(select(day, func.count()).where(*sent_in_period).group_by(day)):
        found["sent"][which(when)] += count
    for kind, key in (("email_open", "opened"), ("email_click", "clicked")):
        rows = db.session.execute(
            select(day, func.count(distinct(e.touchpoint_id))).select_from(e).join(t, t.id == e.touchpoint_id)
            .where(e.type == kind, e.occurred_at >= low, engagement_scoring.by_people(), *sent_in_period).group_by(day))
        for when, count in rows:
            found[key][which(when)] += count
    return found


def _emails_rolled(scope: Scope, spans: list[Bucket], rolled: kpi_rollups.Snapshot) -> dict[str, list[int]] | None:
    """The same from kpi_emails for sends before the rollups' cut, the touchpoints after it, and the
    opens and clicks not rolled yet; None when kpi_emails misses a send it should hold."""
    t, k = Touchpoint, KpiEmail
    low, high = scope.bounds()
    cut = rolled.sends_through

    def after_start(column):
        return func.count(case((column >= low, 1)))

    parts = []
    since = low if cut is None or cut < low else cut
    if since < high:  # sent after the cut: a few minutes' touchpoints (read by time first), with their rolled opens
        recent = select(t.id, t.account_id, t.sent_at).where(t.channel == "email", t.sent_at >= since, t.sent_at < high) \
            .cte("recent").prefix_with("MATERIALIZED")
        day = _local_day(recent.c.sent_at, scope)
        parts.append(select(literal("recent"), day, func.count(), after_start(k.opened_at), after_start(k.clicked_at))
                     .select_from(recent).outerjoin(k, k.touchpoint_id == recent.c.id)
                     .where(*_where_scope(recent.c.account_id, scope)).group_by(day))
    scoped = _scoped_accounts(scope) is not None
    if cut is not None and cut > low:
        before_cut = [k.sent_day >= scope.start, k.sent_day <= scope.end, k.sent_at < cut]  # days in the rollups' zone
        parts += [
            select(literal("rolled"), k.sent_day, func.count(), after_start(k.opened_at), after_start(k.clicked_at))
            .where(*before_cut, *_where_scope(k.account_id, scope)).group_by(k.sent_day),
            # kpi_emails holds every send before the cut if it holds as many as the touchpoints do
            select(literal("sends"), null(), func.count(), literal(0), literal(0)).select_from(t)
            .where(t.channel == "email", t.sent_at >= low, t.sent_at < high, t.sent_at < cut),
        ]
        if scoped:
            parts.append(select(literal("rolled_sends"), null(), func.count(), literal(0), literal(0)).where(*before_cut))
    # opens and clicks not rolled yet, of the period's emails the parts above did not count as such
    unrolled = rolled.events()
    tail = unrolled.c
    counted = case((tail.type == "email_open", k.opened_at), else_=k.clicked_at)
    day = _local_day(t.sent_at, scope)
    parts.append(
        select(tail.type, day, func.count(distinct(t.id)), literal(0), literal(0))
        .select_from(unrolled).join(t, t.id == tail.touchpoint_id).outerjoin(k, k.touchpoint_id == t.id)
        .where(tail.type.in_(("email_open", "email_click")), tail.occurred_at >= low, tail.machine == "",
               t.channel == "email", t.sent_at >= low, t.sent_at < high, *_where_scope(t.account_id, scope),
               or_(counted.is_(None), counted < low))
        .group_by(tail.type, day))
    rows = db.session.execute(union_all(*parts)).all()
    checks = {part: count for part, _when, count, _o, _c in rows if part in ("rolled_sends", "sends")}
    if not scoped:
        checks["rolled_sends"] = sum(count for part, _when, count, _o, _c in rows if part == "rolled")
    if checks.get("rolled_sends", 0) != checks.get("sends", 0):
        return None
    which = _bucket_of(scope, spans)
    found = {"sent": [0] * len(spans), "opened": [0] * len(spans), "clicked": [0] * len(spans)}
    for part, when, count, opened, clicked in rows:
        if part in ("recent", "rolled"):
            slot = which(when)
            found["sent"][slot] += count
            found["opened"][slot] += opened
            found["clicked"][slot] += clicked
        elif part in ("email_open", "email_click"):
            found["opened" if part == "email_open" else "clicked"][which(when)] += count
    return found


def _milestones(kind: str, scope: Scope, spans: list[Bucket]) -> list[int]:
    m = AccountMilestone
    low, high = scope.bounds()
    day = _local_day(m.reached_at, scope)
    which = _bucket_of(scope, spans)
    counts = [0] * len(spans)
    for when, count in db.session.execute(select(day, func.count()).where(
            m.kind == kind, m.reached_at >= low, m.reached_at < high, *_where_scope(m.account_id, scope))
            .group_by(day)):
        counts[which(when)] += count
    return counts


def _spend(scope: Scope, program: str | None = None) -> int:
    s = Spend
    query = select(func.coalesce(func.sum(s.amount), 0)).where(
        s.month >= scope.start.replace(day=1), s.month <= scope.end)
    if scope.plan_id is not None:
        query = query.where(s.plan_id == scope.plan_id)
    if program:
        query = query.where(s.program == program)
    return int(db.session.scalar(query) or 0)


def _influenced(scope: Scope) -> tuple[int, int]:
    """(deals created in the period, of them influenced by marketing): one statement, an indexed
    look per deal at its account's events and touchpoints in the INFLUENCE_DAYS before it."""
    d, e, t = Deal, EngagementEvent, Touchpoint
    if db.engine.dialect.name == "postgresql":
        since = d.created_on - timedelta(days=INFLUENCE_DAYS)
        until = cast(d.created_on, DateTime(timezone=True))
    else:  # stored as text: "YYYY-MM-DD HH:MM:SS…" sorts as time does
        since, until = func.datetime(d.created_on, f"-{INFLUENCE_DAYS} days"), d.created_on
    engaged = exists().where(e.account_id == d.account_id, e.occurred_at >= since, e.occurred_at < until,
                             e.machine == "")
    touched = exists().where(t.account_id == d.account_id, t.status == "sent", t.sent_at >= since,
                             t.sent_at < until)
    created, influenced = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((engaged | touched, 1), else_=0)), 0)).where(
            d.created_on >= scope.start, d.created_on <= scope.end, *_where_scope(d.account_id, scope))).one()
    return int(created), int(influenced)


def _funnel(scope: Scope) -> list[FunnelStage]:
    """Each target account's furthest stage by the period's end, in one statement: the stages are
    checked in order and stop at the first one it has not reached (a few index looks per account)."""
    a, m, d = Account, AccountMilestone, Deal
    low, high = scope.bounds()
    reached = [
        exists().where(m.account_id == a.id, m.kind == "engaged", m.reached_at < high),
        exists().where(m.account_id == a.id, m.kind == "mqa", m.reached_at < high),
        exists().where(d.account_id == a.id, d.created_on <= scope.end),
        exists().where(d.account_id == a.id, d.stage == "closed_won", d.closed_on <= scope.end),
    ]
    furthest = case(*[(~condition, n) for n, condition in enumerate(reached)], else_=len(reached)).label("furthest")
    accounts = select(furthest).where(a.target_status == "agreed", *_where_scope(a.id, scope)).subquery()
    at = dict(db.session.execute(select(accounts.c.furthest, func.count()).group_by(accounts.c.furthest)).all())
    stages, before = [], None
    for n, key in enumerate(FUNNEL):  # targeted, then one stage per condition
        count = sum(found for stage, found in at.items() if stage >= n)
        stages.append(FunnelStage(key, count, _ratio(count, before) if before is not None else None))
        before = count
    return stages


@dataclass(frozen=True)
class _Engagement:
    totals: dict[str, tuple[int, float]]
    per_bucket: dict[str, list[float]]
    target_points: float
    target_meetings: int
    engaged: int
    leads: int
    emails: dict[str, list[int]]


def _engagement(scope: Scope, spans: list[Bucket], rolled: kpi_rollups.Snapshot | None) -> _Engagement:
    totals, per_bucket = _event_totals(scope, spans, rolled)
    # points and meetings per target account: the events of agreed target accounts only
    target_points, target_meetings = _target_engagement(scope, rolled)
    return _Engagement(totals, per_bucket, target_points, target_meetings, _engaged_accounts(scope, rolled),
                       _leads(scope, rolled), _emails(scope, spans, rolled))


def _engagement_figures(scope: Scope, spans: list[Bucket], rollups: bool) -> _Engagement:
    """From the daily rollups plus what they do not hold yet (kpi_rollups), read again if the job
    moved them meanwhile; from the events alone when there are none in the scope's zone."""
    for _attempt in range(3):
        rolled = kpi_rollups.snapshot(scope.tz) if rollups else None
        found = _engagement(scope, spans, rolled)
        if rolled is None or kpi_rollups.unchanged(rolled):
            return found
    return _engagement(scope, spans, None)


def dashboard(scope: Scope, rollups: bool = True) -> Dashboard:
    """Every figure of the period and scope; `rollups=False` reads events only (the same figures)."""
    spans = buckets(scope)
    engagement = _engagement_figures(scope, spans, rollups)
    totals, per_bucket, emails = engagement.totals, engagement.per_bucket, engagement.emails
    target_points, target_meetings = engagement.target_points, engagement.target_meetings
    engaged, leads = engagement.engaged, engagement.leads
    count = {kind: n for kind, (n, _v) in totals.items()}
    accounts = _scoped_accounts(scope)
    targeted_query = select(func.count()).select_from(Account).where(Account.target_status == "agreed")
    contacts_query = select(func.count()).select_from(Contact).join(Account, Account.id == Contact.account_id) \
        .where(Account.target_status == "agreed")
    if accounts is not None:
        targeted_query = targeted_query.where(Account.id.in_(accounts))
        contacts_query = contacts_query.where(Account.id.in_(accounts))
    targeted = db.session.scalar(targeted_query) or 0
    contacts = db.session.scalar(contacts_query) or 0
    mqas = _milestones("mqa", scope, spans)
    deals = _deals(scope)
    figures = deal_figures(deals, scope.start, scope.end)
    created, influenced = _influenced(scope)
    spend = _spend(scope)
    sent, opened, clicked = sum(emails["sent"]), sum(emails["opened"]), sum(emails["clicked"])
    views, seconds = totals.get("page_view", (0, 0.0))[0], totals.get("time_on_page", (0, 0.0))[1]
    values = {
        "mqas": sum(mqas), "engaged_accounts": engaged, "leads": leads,
        "cost_per_lead": _ratio(spend, leads), "time_on_page": _ratio(seconds, views),
        "emails_sent": sent, "open_rate": _ratio(opened, sent), "click_rate": _ratio(clicked, sent),
        "contacts_per_account": _ratio(contacts, targeted),
        "engagement_per_account": _ratio(target_points, targeted),
        "meetings_per_account": _ratio(target_meetings, targeted),
        "proposals_sent": figures["proposals_sent"], "deals_won": figures["deals_won"],
        "revenue": figures["revenue"], "close_rate": figures["close_rate"], "churn_rate": figures["churn_rate"],
        "average_selling_price": figures["average_selling_price"],
        "sales_cycle_days": figures["sales_cycle_days"], "pipeline_velocity": figures["pipeline_velocity"],
        "influence_rate": _ratio(influenced, created),
    }
    details = {
        "leads": _("%(n)s form fills", n=count.get("form_fill", 0)),
        "open_rate": _("%(opened)s of %(sent)s emails", opened=opened, sent=sent),
        "click_rate": _("%(clicked)s of %(sent)s emails", clicked=clicked, sent=sent),
        "close_rate": _("%(won)s won, %(lost)s lost", won=figures["deals_won"], lost=figures["deals_lost"]),
        "influence_rate": _("%(influenced)s of %(created)s new deals", influenced=influenced, created=created),
        "pipeline_velocity": _("%(n)s open deals", n=figures["open_deals"]),
        "cost_per_lead": _("spend %(spend)s", spend=f"{spend:,}"),
    }
    revenue = [0.0] * len(spans)
    which = _bucket_of(scope, spans)
    for deal in deals:
        if deal.stage == "closed_won" and deal.closed_on and scope.start <= deal.closed_on <= scope.end:
            revenue[which(deal.closed_on)] += deal.amount or 0
    series = {
        "points": Series("points", [round(v, 1) for v in per_bucket["_points"]]),
        "mqas": Series("mqas", list(mqas)),
        "open_rate": Series("open_rate", [_ratio(o, s) for o, s in zip(emails["opened"], emails["sent"])]),
        "click_rate": Series("click_rate", [_ratio(c, s) for c, s in zip(emails["clicked"], emails["sent"])]),
        "revenue": Series("revenue", revenue),
    }
    nothing = not totals and not sent and not deals and not targeted
    notes = [_("Spend is recorded per program and plan, not per tier: cost per lead uses all spend.")] \
        if scope.tier is not None else []
    return Dashboard(scope, {key: Kpi(key, values[key], details.get(key, "")) for key in KPIS}, spans, series,
                     _funnel(scope), spend, targeted, nothing, notes)


def _target_engagement(scope: Scope, rolled: kpi_rollups.Snapshot | None = None) -> tuple[float, int]:
    r = KpiAccountDay
    targets = select(Account.id).where(Account.target_status == "agreed")

    def grouped(e):
        return select(e.type, func.count(), func.sum(e.value)) \
            .where(*_people_in_period(scope, e), e.account_id.in_(targets)).group_by(e.type)

    if rolled is None:
        rows = db.session.execute(grouped(EngagementEvent)).all()
    else:
        rows = db.session.execute(union_all(
            select(r.type, func.sum(r.events), func.sum(r.value)).where(*_rolled_days(scope, r.account_id.in_(targets)))
            .group_by(r.type),
            grouped(rolled.events().c))).all()
    weights = engagement_scoring.settings().weights
    merged = _merged(rows)
    points = sum(engagement_scoring.points(kind, n, v, weights) for kind, (n, v) in merged)
    meetings = sum(n for kind, (n, _v) in merged if kind == "meeting_booked")
    return points, meetings


# --- ABM against general marketing ----------------------------------------------------------------

@dataclass(frozen=True)
class Program:
    key: str                       # abm, general
    spend: dict[str, int]          # category → amount
    engaged_accounts: int
    mqas: int
    opportunities: int
    deals_won: int
    revenue: int

    @property
    def total_spend(self) -> int:
        return sum(self.spend.values())

    @property
    def roi(self) -> float | None:
        return _ratio(self.revenue - self.total_spend, self.total_spend)

    @property
    def cost_per_opportunity(self) -> float | None:
        return _ratio(self.total_spend, self.opportunities)


def comparison(scope: Scope) -> dict[str, Program]:
    """ABM (the agreed target list, "abm" spend) against general marketing, over the period."""
    low, high = scope.bounds()
    is_target = (Account.target_status == "agreed")
    program = func.coalesce(is_target, literal(False))
    m, d, s = AccountMilestone, Deal, Spend
    milestones = defaultdict(int)
    targets = select(Account.id).where(is_target)
    on_list = case((m.account_id.in_(targets), 1), else_=0)  # a list read once, not a look per milestone
    for kind, abm, n in db.session.execute(
            select(m.kind, on_list, func.count()).where(m.reached_at >= low, m.reached_at < high)
            .group_by(m.kind, on_list)):
        milestones[(kind, bool(abm))] += n
    opportunities = defaultdict(int)
    for abm, n in db.session.execute(select(program, func.count()).select_from(d).join(Account, Account.id == d.account_id)
                                     .where(d.created_on >= scope.start, d.created_on <= scope.end)
                                     .group_by(program)):
        opportunities[bool(abm)] += n
    won = defaultdict(lambda: [0, 0])
    for abm, n, amount in db.session.execute(
            select(program, func.count(), func.coalesce(func.sum(d.amount), 0)).select_from(d)
            .join(Account, Account.id == d.account_id)
            .where(d.stage == "closed_won", d.closed_on >= scope.start, d.closed_on <= scope.end).group_by(program)):
        won[bool(abm)] = [n, int(amount)]
    spend: dict[str, dict[str, int]] = {"abm": {}, "general": {}}
    for key, category, amount in db.session.execute(
            select(s.program, s.category, func.sum(s.amount))
            .where(s.month >= scope.start.replace(day=1), s.month <= scope.end).group_by(s.program, s.category)):
        spend[key][category] = int(amount)
    return {key: Program(key, spend[key], milestones[("engaged", abm)], milestones[("mqa", abm)],
                         opportunities[abm], won[abm][0], won[abm][1])
            for key, abm in (("abm", True), ("general", False))}


# --- export ---------------------------------------------------------------------------------------

def export_rows(board: Dashboard, programs: dict[str, Program]):
    """(section, measure, from, to, value) rows for the CSV: the KPIs, the series and the comparison."""
    scope = board.scope
    for kpi in board.kpis.values():
        yield ["kpi", kpi.key, scope.start.isoformat(), scope.end.isoformat(),
               "" if kpi.value is None else round(kpi.value, 4)]
    for series in board.series.values():
        for span, value in zip(board.buckets, series.values):
            yield ["series", series.key, span.start.isoformat(), span.end.isoformat(),
                   "" if value is None else round(value, 4)]
    for stage in board.funnel:
        yield ["funnel", stage.key, scope.start.isoformat(), scope.end.isoformat(), stage.count]
    for key, found in programs.items():
        for measure, value in (("spend", found.total_spend), ("engaged_accounts", found.engaged_accounts),
                               ("mqas", found.mqas), ("opportunities", found.opportunities),
                               ("deals_won", found.deals_won), ("revenue", found.revenue),
                               ("roi", "" if found.roi is None else round(found.roi, 4))):
            yield [f"program:{key}", measure, scope.start.isoformat(), scope.end.isoformat(), value]
