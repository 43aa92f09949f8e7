"""Engagement scores: what prospects did, weighted by kind and faded by age (issue 6).

Each event type is worth some points (marketers edit them); an event counts fully today and
half after ``half_life_days``, a quarter after twice that, and so on. Time on a page is worth its
points per minute, at most ten minutes a view. Events a mail proxy or a link scanner made
(``machine``, abmcontent.machines) count nothing.

A contact's score is the sum over their events; an account's is the sum over all of its events,
known people and anonymous visits from its network alike. Scores are computed from the events
when asked, from one grouped query (per person or account, type and day), so a change of
weights applies at once and nothing is stored twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import EVENT_TYPES, EngagementEvent, ScoringSettings, User

EDITORS = ("marketer", "campaign")  # admin always passes
DEFAULT_WEIGHTS = {
    "page_view": 1, "time_on_page": 1, "asset_open": 5, "asset_download": 8, "cta_click": 6, "form_fill": 15,
    "email_open": 1, "email_click": 4, "event_registered": 12, "event_declined": 0, "event_attended": 20,
    "meeting_booked": 30, "reply": 15,
}
DEFAULT_HALF_LIFE = 30
MAX_POINTS = 1000
MAX_MINUTES_A_VIEW = 10


@dataclass(frozen=True)
class Settings:
    weights: dict[str, float]
    half_life_days: int
    mqa_max_tier: int = 2
    mqa_min_score: float = 40.0
    surge_factor: float = 2.0
    surge_min_points: float = 10.0


RULE_DEFAULTS = {"mqa_max_tier": 2, "mqa_min_score": 40.0, "surge_factor": 2.0, "surge_min_points": 10.0}
SURGE_WEEKS = 8  # the trailing average: the eight weeks before this one


def settings() -> Settings:
    row = db.session.get(ScoringSettings, 1)
    weights = dict(DEFAULT_WEIGHTS)
    if row is None:
        return Settings(weights, DEFAULT_HALF_LIFE)
    weights.update({k: float(v) for k, v in (row.weights or {}).items() if k in EVENT_TYPES})
    return Settings(weights, row.half_life_days, row.mqa_max_tier, row.mqa_min_score, row.surge_factor,
                    row.surge_min_points)


def _rule_errors(rules: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, float]]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, float] = {}
    checks = {
        "mqa_max_tier": (1, 3, _("Choose tier 1, 2 or 3.")),
        "mqa_min_score": (0, 100_000, _("Use a score from 0 to 100,000.")),
        "surge_factor": (1, 100, _("Use a factor from 1 to 100, e.g. 2 for twice the usual.")),
        "surge_min_points": (0, 100_000, _("Use a number of points from 0 to 100,000.")),
    }
    for name, (low, high, message) in checks.items():
        raw = str(rules.get(name, RULE_DEFAULTS[name])).strip()
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not low <= value <= high or (name == "mqa_max_tier" and not value.is_integer()):
            errors[name] = [message]
        else:
            clean[name] = value
    return errors, clean


def save_settings(weights: dict[str, str], half_life_days: str, user: User | None, now: datetime,
                  rules: dict[str, str] | None = None) -> Settings:
    """Points per event type (0–1,000, whole or decimal), a half-life of 1–365 days, and the MQA
    and surge rules (their defaults when not given)."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only marketers and campaign managers can change how engagement is scored."))
    errors: dict[str, list[str]] = {}
    clean: dict[str, float] = {}
    for kind in EVENT_TYPES:
        raw = str(weights.get(kind, DEFAULT_WEIGHTS.get(kind, 0))).strip()
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 <= value <= MAX_POINTS or value != value:  # NaN compares unequal to itself
            errors[f"weight_{kind}"] = [_("Use a number of points from 0 to 1,000.")]
        else:
            clean[kind] = value
    try:
        half_life = int(str(half_life_days).strip())
    except ValueError:
        half_life = 0
    if not 1 <= half_life <= 365:
        errors["half_life_days"] = [_("Use a half-life of 1 to 365 days.")]
    rule_errors, rule_values = _rule_errors(rules or {})
    errors.update(rule_errors)
    if errors:
        raise ValidationError(errors)
    row = db.session.get(ScoringSettings, 1) or ScoringSettings(id=1)
    row.weights, row.half_life_days, row.updated_at = clean, half_life, now
    row.mqa_max_tier = int(rule_values["mqa_max_tier"])
    row.mqa_min_score, row.surge_factor = rule_values["mqa_min_score"], rule_values["surge_factor"]
    row.surge_min_points = rule_values["surge_min_points"]
    row.updated_by_id = user.id if user else None
    db.session.add(row)
    db.session.commit()
    return settings()


def fade(age_days: float, half_life_days: int) -> float:
    """How much an event this many days old still counts (1 today, ½ after one half-life)."""
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


def points(kind: str, count: int, value_total: float | None, weights: dict[str, float]) -> float:
    """Undecayed points for `count` events of one kind (time on page: per minute, capped)."""
    weight = weights.get(kind, 0.0)
    if kind == "time_on_page":
        minutes = min((value_total or 0.0) / 60.0, MAX_MINUTES_A_VIEW * count)
        return weight * minutes
    return weight * count


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def combine(rows: Iterable[tuple], config: Settings, now: datetime) -> dict[int, float]:
    """Scores from (key, type, day, count, value total) rows: the pure part, tested with explicit
    values."""
    today = now.date()
    scores: dict[int, float] = {}
    for key, kind, day, count, value_total in rows:
        earned = points(kind, count, value_total, config.weights)
        if earned:
            scores[key] = scores.get(key, 0.0) + earned * fade((today - _day(day)).days, config.half_life_days)
    return {key: round(score, 2) for key, score in scores.items()}


def by_people():
    """Events a person made: not flagged as a mail proxy's or a link scanner's."""
    return EngagementEvent.machine == ""


def _daily(column, ids: list[int], now: datetime, since: datetime | None = None) -> list[tuple]:
    """(key, type, day, count, value total) of the people-made events of `ids` up to `now`."""
    e = EngagementEvent
    day = func.date(e.occurred_at)
    query = select(column, e.type, day, func.count(), func.sum(e.value)) \
        .where(column.in_(ids), e.occurred_at <= now, by_people())
    if since is not None:
        query = query.where(e.occurred_at > since)
    return db.session.execute(query.group_by(column, e.type, day)).all()


def _scores(column, ids: list[int], now: datetime, config: Settings | None = None) -> dict[int, float]:
    if not ids:
        return {}
    found = combine(_daily(column, ids, now), config or settings(), now)
    return {key: found.get(key, 0.0) for key in ids}


def contact_scores(contact_ids: list[int], now: datetime, config: Settings | None = None) -> dict[int, float]:
    return _scores(EngagementEvent.contact_id, contact_ids, now, config)


def account_scores(account_ids: list[int], now: datetime, config: Settings | None = None) -> dict[int, float]:
    return _scores(EngagementEvent.account_id, account_ids, now, config)


# --- MQA and intent surge --------------------------------------------------------------------------

def is_mqa(tier: int | None, score: float, config: Settings) -> bool:
    """Marketing-qualified: an ICP tier at least as good as the rule's (1 is best) and enough
    engagement."""
    return tier is not None and tier <= config.mqa_max_tier and score >= config.mqa_min_score


@dataclass(frozen=True)
class Surge:
    this_week: float
    usual: float          # the weekly average of the SURGE_WEEKS weeks before
    surging: bool


def surge(weekly: dict[int, float], config: Settings) -> Surge:
    """From undecayed points by weeks ago (0 = the last seven days): surging when this week is
    at least `surge_factor` × the usual week and at least `surge_min_points`."""
    this_week = weekly.get(0, 0.0)
    usual = sum(weekly.get(n, 0.0) for n in range(1, SURGE_WEEKS + 1)) / SURGE_WEEKS
    surging = this_week >= config.surge_min_points and this_week >= config.surge_factor * usual
    return Surge(round(this_week, 2), round(usual, 2), surging)


def weekly_points(account_ids: list[int], now: datetime, config: Settings | None = None) -> dict[int, dict[int, float]]:
    """Undecayed points per account and week ago (0–SURGE_WEEKS), people and machines apart."""
    from datetime import timedelta

    if not account_ids:
        return {}
    config = config or settings()
    rows = _daily(EngagementEvent.account_id, account_ids, now, since=now - timedelta(days=7 * (SURGE_WEEKS + 1)))
    today = now.date()
    weeks: dict[int, dict[int, float]] = {account_id: {} for account_id in account_ids}
    for account_id, kind, when, count, value_total in rows:
        ago = (today - _day(when)).days // 7
        if 0 <= ago <= SURGE_WEEKS:
            bucket = weeks[account_id]
            bucket[ago] = bucket.get(ago, 0.0) + points(kind, count, value_total, config.weights)
    return weeks


def surges(account_ids: list[int], now: datetime, config: Settings | None = None) -> dict[int, Surge]:
    config = config or settings()
    return {account_id: surge(weekly, config) for account_id, weekly in weekly_points(account_ids, now, config).items()}
