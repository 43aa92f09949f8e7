"""The KPI dashboard's figures against a fixture computed by hand (October 2026), on SQLite and
PostgreSQL; the deal arithmetic and the period rules as plain functions."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from abmcontent import kpis, tracking
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountMilestone, Contact, Deal, Enrollment, Plan, Spend, Touchpoint

UTC = timezone.utc
OCTOBER = kpis.Scope(date(2026, 10, 1), date(2026, 10, 31))


def _at(day: int, month: int = 10, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def build_october(app) -> dict[str, Account]:
    """Four accounts, three of them the agreed target list, and what they did around October 2026.

    The figures the tests expect, by hand:
    * emails sent in October 4 (tp1–tp4); opened by a person: tp1 (tp2's open was Apple's proxy) → 25 %;
      clicked: tp3 → 25 %
    * leads: Priya and Dana filled in forms (Dana twice) → 2; spend 4,000 ABM + 6,000 general → 10,000
      → 5,000 a lead (September's 9,999 is outside)
    * time on page: 180 s over 7 page views → 25.7 s
    * contacts per target account: 6 contacts / 3 → 2.0; engagement points of target accounts:
      Harborview 4 views + 3 min + form 15 + meeting 30 + open 1 = 53, Cobalt 2 views + 2 forms 30 + click 4
      = 36 → 89 / 3 = 29.67; meetings 1 / 3
    * MQAs in October: Harborview (Cobalt's was in September) → 1
    * deals: won D1 (50,000, created Aug 1, won Oct 20: 80 days), lost D2 → close rate 50 %, ASP 50,000;
      open at the end: D3 → velocity 1 × 50,000 × 0.5 / 80 = 312.5 a day; D4 (won in March) churned
      in October and was the only live customer → churn 100 %; proposals sent: D1 → 1
    * influence: D2 (Cobalt engaged Oct 3, before its deal on Oct 5) yes; D3 (Delta's email went out
      Oct 12, after its deal on Oct 10) no → 50 %
    * funnel by Oct 31: targeted 3 → engaged 2 (Harborview, Cobalt) → MQA 2 → opportunity 2 → won 1
    """
    accounts = {
        "harborview": Account(name="Harborview Bank", domain="harborview.example", tier=1, target_status="agreed"),
        "cobalt": Account(name="Cobalt Data", domain="cobalt.example", tier=1, target_status="agreed"),
        "delta": Account(name="Delta Freight", domain="delta.example", tier=2, target_status="agreed"),
        "echo": Account(name="Echo Retail", domain="echo.example", tier=3),
    }
    db.session.add_all(accounts.values())
    db.session.flush()
    people = {}
    for key, names in {"harborview": ["Priya", "Tom", "Ana"], "cobalt": ["Dana", "Lee"], "delta": ["Kim"],
                       "echo": ["Sam"]}.items():
        for name in names:
            people[name] = Contact(account=accounts[key], first_name=name, email=f"{name.lower()}@{key}.example")
    db.session.add_all(people.values())
    db.session.flush()
    a = {key: account.id for key, account in accounts.items()}

    def touchpoint(n: int, account: str, sent: datetime) -> Touchpoint:
        return Touchpoint(account_id=a[account], channel="email", due_at=sent, window_end_at=sent, status="sent",
                          idempotency_key=f"kpi-{n}", sent_at=sent)
    sent = [touchpoint(1, "harborview", _at(2)), touchpoint(2, "cobalt", _at(2)), touchpoint(3, "cobalt", _at(4)),
            touchpoint(4, "delta", _at(12)), touchpoint(5, "echo", _at(28, 9))]
    db.session.add_all(sent)
    db.session.commit()  # the tracking writer inserts on its own connection
    tp = {n + 1: row.id for n, row in enumerate(sent)}

    def did(kind, account, when, contact=None, **fields):
        tracking.record(kind, app=app, account_id=a[account], contact_id=people[contact].id if contact else None,
                        occurred_at=when, channel="web", **fields)
    for day in (1, 6, 7, 8):
        did("page_view", "harborview", _at(day))
    did("time_on_page", "harborview", _at(6), value=60.0)
    did("time_on_page", "harborview", _at(7), value=120.0)
    did("form_fill", "harborview", _at(7), "Priya")
    did("meeting_booked", "harborview", _at(9), "Priya")
    did("email_open", "harborview", _at(3), "Tom", touchpoint_id=tp[1])
    did("page_view", "cobalt", _at(3))
    did("page_view", "cobalt", _at(3, hour=13))
    did("form_fill", "cobalt", _at(3), "Dana")
    did("form_fill", "cobalt", _at(15), "Dana")
    did("email_open", "cobalt", _at(2, hour=12), "Dana", touchpoint_id=tp[2], machine="apple_privacy_proxy")
    did("email_click", "cobalt", _at(5), "Lee", touchpoint_id=tp[3])
    did("email_open", "echo", _at(29, 9), "Sam", touchpoint_id=tp[5])   # September's email
    did("page_view", "echo", _at(3))
    did("page_view", "harborview", _at(30, 9))                           # September
    did("form_fill", "echo", _at(2, 11), "Sam")                          # November
    tracking.flush(app)
    db.session.add_all([
        AccountMilestone(account_id=a["harborview"], kind="engaged", reached_at=_at(1)),
        AccountMilestone(account_id=a["cobalt"], kind="engaged", reached_at=_at(10, 9)),
        AccountMilestone(account_id=a["echo"], kind="engaged", reached_at=_at(3)),
        AccountMilestone(account_id=a["harborview"], kind="mqa", reached_at=_at(5)),
        AccountMilestone(account_id=a["cobalt"], kind="mqa", reached_at=_at(20, 9)),
        Deal(account_id=a["harborview"], name="D1", stage="closed_won", amount=50_000, created_on=date(2026, 8, 1),
             proposal_sent_on=date(2026, 10, 2), closed_on=date(2026, 10, 20)),
        Deal(account_id=a["cobalt"], name="D2", stage="closed_lost", amount=30_000, created_on=date(2026, 10, 5),
             closed_on=date(2026, 10, 25), close_reason="Chose a competitor"),
        Deal(account_id=a["delta"], name="D3", stage="qualification", amount=10_000, created_on=date(2026, 10, 10)),
        Deal(account_id=a["echo"], name="D4", stage="closed_won", amount=20_000, created_on=date(2026, 1, 10),
             closed_on=date(2026, 3, 1), churned_on=date(2026, 10, 15)),
        Spend(program="abm", category="content", month=date(2026, 10, 1), amount=3_000),
        Spend(program="abm", category="advertising", month=date(2026, 10, 1), amount=1_000),
        Spend(program="general", category="advertising", month=date(2026, 10, 1), amount=6_000),
        Spend(program="general", category="research", month=date(2026, 9, 1), amount=9_999),
    ])
    db.session.commit()
    return accounts


def _values(board: kpis.Dashboard) -> dict[str, float | None]:
    return {key: (round(kpi.value, 4) if kpi.value is not None else None) for key, kpi in board.kpis.items()}


def test_the_dashboard_matches_the_hand_computed_october(any_db_app):
    build_october(any_db_app)
    values = _values(kpis.dashboard(OCTOBER))
    assert values == {
        "mqas": 1, "engaged_accounts": 3, "leads": 2, "cost_per_lead": 5000.0, "time_on_page": round(180 / 7, 4),
        "emails_sent": 4, "open_rate": 0.25, "click_rate": 0.25, "contacts_per_account": 2.0,
        "engagement_per_account": round(89 / 3, 4), "meetings_per_account": round(1 / 3, 4),
        "proposals_sent": 1, "deals_won": 1, "revenue": 50_000, "close_rate": 0.5, "churn_rate": 1.0,
        "average_selling_price": 50_000.0, "sales_cycle_days": 80.0, "pipeline_velocity": 312.5,
        "influence_rate": 0.5,
    }


def test_the_funnel_counts_each_stage_within_the_one_before(any_db_app):
    build_october(any_db_app)
    funnel = [(stage.key, stage.count, stage.conversion) for stage in kpis.dashboard(OCTOBER).funnel]
    assert funnel == [("targeted", 3, None), ("engaged", 2, 2 / 3), ("mqa", 2, 1.0), ("opportunity", 2, 1.0),
                      ("won", 1, 0.5)]


def test_weekly_series_put_each_figure_in_its_week(any_db_app):
    build_october(any_db_app)
    board = kpis.dashboard(OCTOBER)
    assert [(b.start.day, b.end.day) for b in board.buckets] == [(1, 7), (8, 14), (15, 21), (22, 28), (29, 31)]
    assert board.series["mqas"].values == [1, 0, 0, 0, 0]
    assert board.series["revenue"].values == [0, 0, 50_000, 0, 0]
    assert board.series["open_rate"].values == [1 / 3, 0.0, None, None, None]  # week 2: Delta's, unopened
    # week 1: Harborview 3 views + 3 min + form + open, Cobalt 2 views + form + click, Echo 1 view
    assert board.series["points"].values == [3 + 3 + 15 + 1 + 2 + 15 + 4 + 1, 1 + 30, 15, 0, 0]


def test_a_tier_or_a_plan_narrows_every_figure_to_its_accounts(any_db_app):
    accounts = build_october(any_db_app)
    tier_one = _values(kpis.dashboard(kpis.Scope(OCTOBER.start, OCTOBER.end, tier=1)))
    assert (tier_one["emails_sent"], tier_one["leads"], tier_one["mqas"], tier_one["contacts_per_account"]) == \
        (3, 2, 1, 2.5)
    plan = Plan(name="Tier 1 programme")
    db.session.add(plan)
    db.session.flush()
    db.session.add(Enrollment(plan_id=plan.id, account_id=accounts["delta"].id, started_at=_at(1)))
    db.session.add(Spend(program="abm", category="events", month=date(2026, 10, 1), amount=700, plan_id=plan.id))
    db.session.commit()
    in_plan = kpis.dashboard(kpis.Scope(OCTOBER.start, OCTOBER.end, plan_id=plan.id))
    assert (in_plan.kpis["emails_sent"].value, in_plan.kpis["deals_won"].value, in_plan.spend) == (1, 0, 700)
    assert [stage.count for stage in in_plan.funnel] == [1, 0, 0, 0, 0]


def test_abm_and_general_marketing_side_by_side(any_db_app):
    build_october(any_db_app)
    programs = kpis.comparison(OCTOBER)
    abm, general = programs["abm"], programs["general"]
    assert (abm.total_spend, abm.spend, abm.engaged_accounts, abm.mqas, abm.opportunities, abm.deals_won,
            abm.revenue) == (4_000, {"content": 3_000, "advertising": 1_000}, 1, 1, 2, 1, 50_000)
    assert abm.roi == 11.5 and abm.cost_per_opportunity == 2_000
    assert (general.total_spend, general.engaged_accounts, general.mqas, general.opportunities, general.revenue) == \
        (6_000, 1, 0, 0, 0)
    assert general.roi == -1.0 and general.cost_per_opportunity is None


def test_people_only_machines_and_other_months_change_nothing(app):
    accounts = build_october(app)
    before = _values(kpis.dashboard(OCTOBER))
    tracking.record("email_open", app=app, account_id=accounts["delta"].id, occurred_at=_at(13),
                    machine="apple_privacy_proxy", touchpoint_id=db.session.query(Touchpoint.id)
                    .filter_by(idempotency_key="kpi-4").scalar())
    tracking.record("form_fill", app=app, account_id=accounts["delta"].id, contact_id=1, occurred_at=_at(1, 11),
                    channel="web")
    tracking.flush(app)
    assert _values(kpis.dashboard(OCTOBER)) == before


def test_an_empty_database_shows_no_figures_rather_than_zero_rates(app):
    board = kpis.dashboard(OCTOBER)
    assert board.empty
    assert board.kpis["open_rate"].value is None and board.kpis["close_rate"].value is None
    assert board.kpis["mqas"].value == 0
    assert [stage.count for stage in board.funnel] == [0, 0, 0, 0, 0]


def test_deal_figures_from_plain_rows():
    row = kpis.DealRow
    deals = [row(1, "closed_won", 100, date(2026, 1, 1), None, date(2026, 1, 11), None),
             row(2, "closed_won", 300, date(2026, 1, 1), date(2026, 1, 5), date(2026, 1, 31), None),
             row(3, "closed_lost", 50, date(2026, 1, 2), None, date(2026, 1, 20), None),
             row(4, "proposal", 70, date(2026, 1, 3), date(2026, 1, 9), None, None),
             row(5, "closed_won", 10, date(2025, 1, 1), None, date(2025, 2, 1), date(2026, 1, 15)),
             row(6, "closed_won", 10, date(2025, 1, 1), None, date(2025, 2, 1), None)]
    found = kpis.deal_figures(deals, date(2026, 1, 1), date(2026, 1, 31))
    assert found["revenue"] == 400 and found["average_selling_price"] == 200
    assert found["close_rate"] == 2 / 3 and found["sales_cycle_days"] == 20
    assert found["proposals_sent"] == 2 and found["open_deals"] == 1
    assert found["pipeline_velocity"] == 1 * 200 * (2 / 3) / 20
    assert found["churn_rate"] == 0.5  # deals 5 and 6 were live customers on Jan 1; 5 left


def test_no_closed_deals_leave_the_rates_unknown():
    found = kpis.deal_figures([], date(2026, 1, 1), date(2026, 1, 31))
    assert found["close_rate"] is None and found["pipeline_velocity"] is None and found["churn_rate"] is None


@pytest.mark.parametrize("period, expected", [
    ("30d", (date(2026, 10, 4), date(2026, 11, 2))),
    ("90d", (date(2026, 8, 5), date(2026, 11, 2))),
    ("this_quarter", (date(2026, 10, 1), date(2026, 11, 2))),
    ("last_quarter", (date(2026, 7, 1), date(2026, 9, 30))),
    ("this_year", (date(2026, 1, 1), date(2026, 11, 2))),
])
def test_period_presets_end_today_or_at_the_last_quarters_end(app, period, expected):
    scope = kpis.parse_scope(period, "", "", "", "", date(2026, 11, 2), "UTC")
    assert (scope.start, scope.end) == expected


@pytest.mark.parametrize("args, field", [
    (("custom", "2026-10-31", "2026-10-01", "", ""), "end"),
    (("custom", "October", "2026-10-31", "", ""), "start"),
    (("custom", "2020-01-01", "2026-10-31", "", ""), "end"),
    (("forever", "", "", "", ""), "period"),
    (("30d", "", "", "7", ""), "tier"),
    (("30d", "", "", "", "999"), "plan"),
    (("30d", "", "", "", "1 OR 1=1"), "plan"),
])
def test_bad_filters_say_which_field_is_wrong(app, args, field):
    with pytest.raises(ValidationError) as raised:
        kpis.parse_scope(*args, today=date(2026, 11, 2), tz="UTC")
    assert field in raised.value.errors


def test_a_period_is_the_organisations_calendar_days(any_db_app):
    """In Seoul (UTC+9), 1 October starts at 15:00 UTC on 30 September."""
    account = Account(name="Seoul Fintech", domain="seoulfintech.example", target_status="agreed")
    db.session.add(account)
    db.session.commit()
    for when in (datetime(2026, 9, 30, 14, 59, tzinfo=UTC), datetime(2026, 9, 30, 15, 0, tzinfo=UTC),
                 datetime(2026, 10, 31, 14, 59, tzinfo=UTC), datetime(2026, 10, 31, 15, 0, tzinfo=UTC)):
        tracking.record("page_view", app=any_db_app, account_id=account.id, occurred_at=when, channel="web")
    tracking.flush(any_db_app)
    seoul = kpis.dashboard(kpis.Scope(date(2026, 10, 1), date(2026, 10, 31), tz="Asia/Seoul"))
    assert seoul.series["points"].values == [1, 0, 0, 0, 1]
    assert kpis.dashboard(OCTOBER).series["points"].values == [0, 0, 0, 0, 2]


def test_long_periods_are_shown_by_month():
    scope = kpis.Scope(date(2026, 1, 15), date(2026, 11, 2))
    spans = kpis.buckets(scope)
    assert (spans[0].start, spans[0].end, spans[1].start, spans[-1].start, spans[-1].end) == \
        (date(2026, 1, 15), date(2026, 1, 31), date(2026, 2, 1), date(2026, 11, 1), date(2026, 11, 2))
    assert len(spans) == 11


def test_contacts_count_once_however_many_accounts_share_a_plan(app):
    accounts = build_october(app)
    plan = Plan(name="Twice")
    db.session.add(plan)
    db.session.flush()
    for _ in range(2):  # enrolled twice (re-applied after a cancel): still one account
        db.session.add(Enrollment(plan_id=plan.id, account_id=accounts["harborview"].id, started_at=_at(1)))
    db.session.commit()
    board = kpis.dashboard(kpis.Scope(OCTOBER.start, OCTOBER.end, plan_id=plan.id))
    assert board.targeted == 1 and board.kpis["contacts_per_account"].value == 3.0
