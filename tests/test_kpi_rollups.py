"""The KPI dashboard's daily rollups: the same figures as from the events alone, however far the job
has got, whatever changed since, and whoever else is rolling."""
from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from abmcontent import kpi_rollups, kpis, scheduler, tracking
from abmcontent.extensions import db
from abmcontent.models import (Account, Contact, EngagementEvent, Enrollment, KpiAccountDay, KpiDay, KpiEmail,
                               KpiRollupGap, KpiRollupState, Plan, Touchpoint)
from tests.test_kpis import OCTOBER, _at, build_october

UTC = timezone.utc
LATER = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # the job runs after October


def figures(board: kpis.Dashboard) -> dict:
    """Everything the page shows, exactly (no rounding)."""
    return {"kpis": {key: kpi.value for key, kpi in board.kpis.items()},
            "details": {key: kpi.detail for key, kpi in board.kpis.items()},
            "series": {key: series.values for key, series in board.series.items()},
            "funnel": [(stage.key, stage.count, stage.conversion) for stage in board.funnel],
            "buckets": board.buckets, "empty": board.empty, "targeted": board.targeted, "spend": board.spend}


def both_ways(scope: kpis.Scope) -> tuple[dict, dict]:
    """(from the events alone, from the rollups), checking the rollups were in fact read."""
    assert kpi_rollups.snapshot(scope.tz) is not None
    return figures(kpis.dashboard(scope, rollups=False)), figures(kpis.dashboard(scope))


def assert_same(scope: kpis.Scope) -> None:
    direct, rolled = both_ways(scope)
    assert rolled == direct


def roll(tz: str = "UTC", now: datetime = LATER, **options) -> kpi_rollups.RollReport:
    report = kpi_rollups.roll(tz, now, **options)
    assert report.claimed
    return report


# --- the hand-computed October -------------------------------------------------------------------

def test_october_from_rollups_is_october_from_events(any_db_app):
    accounts = build_october(any_db_app)
    hand_computed = figures(kpis.dashboard(OCTOBER, rollups=False))
    report = roll()
    assert report.events == 19 and report.sends == 5 and report.through > 0
    assert figures(kpis.dashboard(OCTOBER)) == hand_computed
    assert kpis.dashboard(OCTOBER).kpis["open_rate"].value == 0.25  # the fixture's own figure
    plan = Plan(name="Tier 1 programme")
    db.session.add(plan)
    db.session.flush()
    db.session.add(Enrollment(plan_id=plan.id, account_id=accounts["delta"].id, started_at=_at(1)))
    db.session.commit()
    for scope in (kpis.Scope(OCTOBER.start, OCTOBER.end, tier=1), kpis.Scope(OCTOBER.start, OCTOBER.end, tier=3),
                  kpis.Scope(OCTOBER.start, OCTOBER.end, plan_id=plan.id),
                  kpis.Scope(date(2026, 9, 15), date(2026, 10, 10)), kpis.Scope(date(2026, 10, 5), date(2026, 10, 5)),
                  kpis.Scope(date(2026, 1, 1), date(2026, 11, 2))):
        assert_same(scope)


def test_a_half_rolled_dashboard_adds_the_events_the_job_has_not_reached(any_db_app):
    build_october(any_db_app)
    first = db.session.scalar(select(func.min(EngagementEvent.id)))
    roll(chunk=5, max_chunks=1)  # five of nineteen events in the rollups, the rest read as events
    assert db.session.get(KpiRollupState, 1).events_through == first - 1 + 5
    assert_same(OCTOBER)
    assert_same(kpis.Scope(OCTOBER.start, OCTOBER.end, tier=1))
    roll(chunk=5)
    assert_same(OCTOBER)


def test_rolling_again_counts_nothing_twice(any_db_app):
    build_october(any_db_app)
    roll()
    before = db.session.execute(select(KpiDay.day, KpiDay.type, KpiDay.events).order_by(KpiDay.day, KpiDay.type)).all()
    assert roll().events == 0 and roll().sends == 0
    assert db.session.execute(select(KpiDay.day, KpiDay.type, KpiDay.events)
                              .order_by(KpiDay.day, KpiDay.type)).all() == before
    assert_same(OCTOBER)


def test_an_event_that_arrives_late_lands_on_the_day_it_happened(any_db_app):
    accounts = build_october(any_db_app)
    roll()
    tracking.record("meeting_booked", app=any_db_app, account_id=accounts["cobalt"].id, occurred_at=_at(4, hour=8),
                    channel="web")  # a spool replay: happened on 4 October, stored now
    tracking.flush(any_db_app)
    assert_same(OCTOBER)  # before the job: read from the events
    roll()
    assert db.session.scalar(select(KpiAccountDay.events).where(
        KpiAccountDay.day == date(2026, 10, 4), KpiAccountDay.account_id == accounts["cobalt"].id,
        KpiAccountDay.type == "meeting_booked")) == 1
    assert kpis.dashboard(OCTOBER).kpis["meetings_per_account"].value == 2 / 3
    assert_same(OCTOBER)


def test_an_open_of_an_email_sent_in_the_period_counts_whenever_it_comes(any_db_app):
    accounts = build_october(any_db_app)
    roll()
    delta_email = db.session.scalar(select(Touchpoint.id).where(Touchpoint.idempotency_key == "kpi-4"))
    tracking.record("email_open", app=any_db_app, account_id=accounts["delta"].id, occurred_at=_at(1, 11),
                    channel="email", touchpoint_id=delta_email)  # opened in November
    tracking.flush(any_db_app)
    assert kpis.dashboard(OCTOBER).kpis["open_rate"].value == 0.5
    roll()
    assert kpis.dashboard(OCTOBER).kpis["open_rate"].value == 0.5
    assert_same(OCTOBER)


# --- what may change after rolling ----------------------------------------------------------------

def test_a_new_tier_plan_or_target_list_changes_the_dashboard_without_a_new_roll(any_db_app):
    accounts = build_october(any_db_app)
    roll()
    tier_one = kpis.Scope(OCTOBER.start, OCTOBER.end, tier=1)
    before = kpis.dashboard(tier_one).kpis["emails_sent"].value
    accounts["echo"].tier = 1               # Echo (its September email, October events) joins tier 1
    accounts["cobalt"].target_status = None  # and Cobalt leaves the target list
    plan = Plan(name="Late starters")
    db.session.add(plan)
    db.session.flush()
    db.session.add(Enrollment(plan_id=plan.id, account_id=accounts["echo"].id, started_at=_at(20)))
    db.session.commit()
    assert kpis.dashboard(tier_one).kpis["emails_sent"].value == before  # Echo's email went out in September
    for scope in (OCTOBER, tier_one, kpis.Scope(OCTOBER.start, OCTOBER.end, plan_id=plan.id),
                  kpis.Scope(date(2026, 9, 1), OCTOBER.end, tier=1)):
        assert_same(scope)
    assert kpis.dashboard(tier_one).kpis["engaged_accounts"].value == 3


def test_another_time_zone_is_not_read_until_the_rollups_are_rebuilt_in_it(any_db_app):
    build_october(any_db_app)
    roll("UTC")
    seoul = kpis.Scope(OCTOBER.start, OCTOBER.end, tz="Asia/Seoul")
    assert kpi_rollups.snapshot("Asia/Seoul") is None  # counted in UTC days: the dashboard reads events
    from_events = figures(kpis.dashboard(seoul))
    report = roll("Asia/Seoul")
    assert report.rebuilt and report.events == 19
    assert db.session.get(KpiRollupState, 1).timezone == "Asia/Seoul"
    assert figures(kpis.dashboard(seoul)) == from_events
    assert_same(seoul)
    assert kpi_rollups.snapshot("UTC") is None


def test_local_days_follow_a_clock_change(any_db_app):
    """New York leaves daylight saving time at 06:00 UTC on 1 November 2026."""
    account = Account(name="Hudson Logistics", domain="hudson.example", tier=1, target_status="agreed")
    db.session.add(account)
    db.session.commit()
    for when in (datetime(2026, 10, 31, 3, 59, tzinfo=UTC), datetime(2026, 10, 31, 4, 0, tzinfo=UTC),
                 datetime(2026, 11, 2, 4, 59, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)):
        tracking.record("page_view", app=any_db_app, account_id=account.id, occurred_at=when, channel="web")
    tracking.flush(any_db_app)
    york = kpis.Scope(date(2026, 10, 30), date(2026, 11, 1), tz="America/New_York")
    assert kpis.dashboard(york, rollups=False).series["points"].values == [3]
    roll("America/New_York")
    # 23:59 EDT on the 30th, midnight EDT on the 31st, 23:59 EST on 1 November, midnight EST on the 2nd
    assert dict(db.session.execute(select(KpiDay.day, KpiDay.events)).all()) == {
        date(2026, 10, 30): 1, date(2026, 10, 31): 1, date(2026, 11, 1): 1, date(2026, 11, 2): 1}
    assert_same(york)
    assert_same(kpis.Scope(date(2026, 11, 1), date(2026, 11, 1), tz="America/New_York"))


def test_offset_changes_are_found_to_the_second():
    first, changes = kpi_rollups.offset_changes("America/New_York", datetime(2026, 1, 1, tzinfo=UTC),
                                                datetime(2027, 1, 1, tzinfo=UTC))
    assert first == -5 * 3600
    assert changes == [(datetime(2026, 3, 8, 7, tzinfo=UTC), -4 * 3600), (datetime(2026, 11, 1, 6, tzinfo=UTC), -5 * 3600)]
    assert kpi_rollups.offset_changes("Asia/Seoul", datetime(2026, 1, 1, tzinfo=UTC),
                                      datetime(2027, 1, 1, tzinfo=UTC)) == (9 * 3600, [])


# --- ids that commit out of order, sends that come late ----------------------------------------------

def _event(n: int, account_id: int, when: datetime, kind: str = "page_view", **fields) -> dict:
    return {"id": n, "key": f"gap-{n}".ljust(32, "0"), "type": kind, "occurred_at": when, "account_id": account_id,
            "channel": "web", "machine": "", "visit": "", "variant": "", "user_agent": "", **fields}


def test_an_id_that_commits_after_a_later_one_is_still_counted_once(any_db_app):
    account = Account(name="Gap Holdings", domain="gap.example", target_status="agreed", tier=2)
    db.session.add(account)
    db.session.commit()
    table = EngagementEvent.__table__
    db.session.execute(insert(table), [_event(n, account.id, _at(n)) for n in (1, 2, 3, 6, 7)])
    db.session.commit()
    roll()
    assert db.session.execute(select(KpiRollupGap.first_id, KpiRollupGap.last_id)).all() == [(4, 5)]
    db.session.execute(insert(table), [_event(4, account.id, _at(4), "form_fill")])  # the slow insert commits
    db.session.commit()
    assert_same(OCTOBER)  # read from the gap before the job gets to it
    assert kpis.dashboard(OCTOBER).series["points"].values == [5 * 1 + 15, 0, 0, 0, 0]
    roll()
    assert db.session.execute(select(KpiRollupGap.first_id, KpiRollupGap.last_id)).all() == [(5, 5)]
    assert_same(OCTOBER)
    roll(now=LATER + timedelta(seconds=kpi_rollups.GAP_SECONDS + 1))  # id 5 never comes: given up
    assert db.session.scalar(select(func.count()).select_from(KpiRollupGap)) == 0
    assert_same(OCTOBER)
    assert roll(now=LATER + timedelta(hours=1)).events == 0


def test_a_send_committed_after_the_job_passed_its_time_is_read_from_the_touchpoints(any_db_app):
    accounts = build_october(any_db_app)
    roll()
    db.session.add(Touchpoint(account_id=accounts["delta"].id, channel="email", due_at=_at(20), window_end_at=_at(20),
                              status="sent", idempotency_key="kpi-late", sent_at=_at(20)))
    db.session.commit()  # sent on 20 October, recorded after the job's cut: kpi_emails does not have it
    assert kpis.dashboard(OCTOBER).kpis["emails_sent"].value == 5
    assert_same(OCTOBER)
    assert roll(now=LATER + timedelta(minutes=1)).sends == 1  # older than the overlap: found by the count
    assert db.session.scalar(select(func.count()).select_from(KpiEmail).where(KpiEmail.sent_at.is_not(None))) == 6
    assert_same(OCTOBER)


def test_sends_of_the_last_minutes_are_read_from_the_touchpoints(any_db_app):
    accounts = build_october(any_db_app)
    roll(now=datetime(2026, 10, 20, tzinfo=UTC))  # the job ran on 20 October: later sends are not rolled
    db.session.add(Touchpoint(account_id=accounts["cobalt"].id, channel="email", due_at=_at(25), window_end_at=_at(25),
                              status="sent", idempotency_key="kpi-25", sent_at=_at(25)))
    db.session.commit()
    cobalt_25 = db.session.scalar(select(Touchpoint.id).where(Touchpoint.idempotency_key == "kpi-25"))
    tracking.record("email_click", app=any_db_app, account_id=accounts["cobalt"].id, occurred_at=_at(26),
                    channel="email", touchpoint_id=cobalt_25)
    tracking.flush(any_db_app)
    roll(now=datetime(2026, 10, 20, 0, 5, tzinfo=UTC))  # its click is rolled before its send is
    assert db.session.get(KpiEmail, cobalt_25).sent_at is None
    board = kpis.dashboard(OCTOBER)
    assert (board.kpis["emails_sent"].value, board.kpis["click_rate"].value) == (5, 2 / 5)
    assert_same(OCTOBER)
    roll()
    assert db.session.get(KpiEmail, cobalt_25).sent_day == date(2026, 10, 25)
    assert_same(OCTOBER)


# --- two rollers ------------------------------------------------------------------------------------

def test_a_second_roller_waits_for_the_first_ones_lease(app):
    build_october(app)
    db.session.add(KpiRollupState(id=1, timezone="UTC", events_through=0, leased_by="other",
                                  lease_until=LATER + timedelta(minutes=3)))
    db.session.commit()
    assert not kpi_rollups.roll("UTC", LATER).claimed
    assert db.session.scalar(select(func.count()).select_from(KpiDay)) == 0
    assert kpi_rollups.roll("UTC", LATER + timedelta(minutes=4)).claimed  # the other one died
    assert_same(OCTOBER)


def test_a_roller_that_lost_its_lease_writes_nothing(app):
    build_october(app)
    assert kpi_rollups._claim("UTC", "slow", LATER)
    db.session.execute(KpiRollupState.__table__.update().values(leased_by="fast"))
    db.session.commit()
    with pytest.raises(kpi_rollups.LeaseLost):
        kpi_rollups._roll_events("UTC", "slow", LATER, 100)
    assert db.session.get(KpiRollupState, 1).events_through == 0
    assert db.session.scalar(select(func.count()).select_from(KpiDay)) == 0


def test_two_rollers_at_once_count_every_event_once(any_db_app):
    build_october(any_db_app)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run(worker: str) -> None:
        try:
            with any_db_app.app_context():
                barrier.wait()
                reports.append(kpi_rollups.roll("UTC", LATER, worker=worker, chunk=2))
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"roller-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.events for r in reports) == 19 and sum(r.claimed for r in reports) >= 1
    db.session.expire_all()
    roll()
    assert db.session.scalar(select(func.sum(KpiDay.events))) == 18  # people's events at known accounts
    assert_same(OCTOBER)


# --- a random month, compared every way -------------------------------------------------------------

def build_random(app, seed: int) -> tuple[list[int], int]:
    """Accounts in every tier, some targets, a plan; people's and machines' events (some without an
    account), form fills, emails sent, opened and clicked, over September to November."""
    rng = random.Random(seed)
    accounts = [Account(name=f"Random {n}", domain=f"random{n}.example", tier=rng.choice([1, 2, 3, None]),
                        target_status=rng.choice(["agreed", None])) for n in range(12)]
    db.session.add_all(accounts)
    db.session.flush()
    people = [Contact(account=rng.choice(accounts), first_name=f"P{n}", email=f"p{n}@random.example") for n in range(20)]
    plan = Plan(name="Random plan")
    db.session.add_all(people + [plan])
    db.session.flush()
    for account in rng.sample(accounts, 4):
        db.session.add(Enrollment(plan_id=plan.id, account_id=account.id, started_at=_at(1, 9)))
    start = datetime(2026, 9, 1, tzinfo=UTC)

    def moment() -> datetime:
        return start + timedelta(seconds=rng.randrange(0, 90 * 86_400))

    emails = []
    for n in range(30):
        sent = moment()
        emails.append(Touchpoint(account_id=rng.choice(accounts).id, channel="email", due_at=sent, window_end_at=sent,
                                 status="sent", sent_at=sent, idempotency_key=f"random-{seed}-{n}"))
    db.session.add_all(emails)
    db.session.commit()
    kinds = ["page_view", "time_on_page", "form_fill", "meeting_booked", "asset_open", "email_open", "email_click"]
    for _n in range(160):
        kind = rng.choice(kinds)
        email = rng.choice(emails) if kind.startswith("email") else None
        account = rng.choice(accounts + [None])
        fields = {"touchpoint_id": email.id} if email else {}
        if kind == "time_on_page":
            fields["value"] = rng.randrange(4, 2400) / 4  # quarters of a second: sums exact in any order
        when = (email.sent_at + timedelta(hours=rng.randrange(1, 400))) if email else moment()
        tracking.record(kind, app=app, account_id=account.id if account else None,
                        contact_id=rng.choice(people).id if kind == "form_fill" else None, occurred_at=when,
                        channel="email" if email else "web", machine=rng.choice(["", "", "", "link_scanner"]), **fields)
    tracking.flush(app)
    return [a.id for a in accounts], plan.id


def scopes(tz: str, plan_id: int) -> list[kpis.Scope]:
    return [kpis.Scope(date(2026, 9, 1), date(2026, 11, 29), tz=tz),
            kpis.Scope(date(2026, 10, 1), date(2026, 10, 31), tz=tz),
            kpis.Scope(date(2026, 9, 14), date(2026, 10, 20), tier=2, tz=tz),
            kpis.Scope(date(2026, 9, 1), date(2026, 12, 31), tier=1, tz=tz),
            kpis.Scope(date(2026, 10, 28), date(2026, 11, 3), plan_id=plan_id, tz=tz),
            kpis.Scope(date(2026, 8, 1), date(2026, 11, 30), plan_id=plan_id, tz=tz)]


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Seoul"])
def test_random_months_give_the_same_figures_from_rollups_as_from_events(any_db_app, tz):
    roll(tz, max_chunks=0)  # nothing rolled yet: every event read as such
    for seed in (1, 2):  # the second month comes on top of the first, rolled
        _ids, plan_id = build_random(any_db_app, seed)
        for scope in scopes(tz, plan_id):
            assert_same(scope)
        roll(tz, chunk=50, max_chunks=1)
        for scope in scopes(tz, plan_id):
            assert_same(scope)
        roll(tz, now=datetime(2026, 12, 15, tzinfo=UTC))
        for scope in scopes(tz, plan_id):
            assert_same(scope)


# --- the job and the command --------------------------------------------------------------------------

def test_the_rollup_job_runs_every_minute_in_the_configured_zone(app):
    assert scheduler.RECURRING["kpi_rollups"] == ("abmcontent.scheduler.jobs:roll_up_kpis", 60)
    build_october(app)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Seoul"
    scheduler.run_in_app(app, scheduler.RECURRING["kpi_rollups"][0])
    state = db.session.get(KpiRollupState, 1)
    assert state.timezone == "Asia/Seoul" and state.events_through > 0 and state.leased_by == ""
    assert_same(kpis.Scope(OCTOBER.start, OCTOBER.end, tz="Asia/Seoul"))


def test_the_rollup_command_catches_up_and_says_how_far(app):
    build_october(app)
    result = app.test_cli_runner().invoke(args=["kpis", "rollup"])
    assert result.exit_code == 0, result.output
    assert "Rolled up 19 events and 5 email sends" in result.output
    db.session.execute(KpiRollupState.__table__.update().values(leased_by="other", lease_until=datetime(2100, 1, 1,
                                                                                                      tzinfo=UTC)))
    db.session.commit()
    busy = app.test_cli_runner().invoke(args=["kpis", "rollup"])
    assert busy.exit_code != 0 and "Another process" in busy.output
