"""/api/v1/kpis: the results page's figures as JSON, for the hand-computed October of tests/test_kpis.py."""
from datetime import datetime, timedelta, timezone

from abmcontent import plans
from tests.api.helpers import assert_problem, caller
from tests.conftest import NOW
from tests.test_kpis import build_october

OCTOBER = {"period": "custom", "start": "2026-10-01", "end": "2026-10-31"}


def test_octobers_figures_come_with_their_units_series_funnel_and_comparison(app, client):
    build_october(app)
    response = caller(client, "sales", scope="read").get("/api/v1/kpis", query_string=OCTOBER)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["scope"] == {"period": "custom", "start": "2026-10-01", "end": "2026-10-31", "tier": None,
                             "plan_id": None, "time_zone": "UTC"}
    figures = {k["key"]: k for k in body["kpis"]}
    assert (figures["mqas"]["value"], figures["revenue"]["value"], figures["close_rate"]["value"]) == (1, 50_000, 0.5)
    assert (figures["close_rate"]["unit"], figures["revenue"]["unit"]) == ("percent", "money")
    assert figures["close_rate"]["label"] == "Close rate" and figures["open_rate"]["detail"] == "1 of 4 emails"
    assert len(body["buckets"]) == 5 and body["buckets"][0] == {"start": "2026-10-01", "end": "2026-10-07"}
    assert all(len(series["values"]) == 5 for series in body["series"])
    assert [(s["key"], s["count"]) for s in body["funnel"]] == [
        ("targeted", 3), ("engaged", 2), ("mqa", 2), ("opportunity", 2), ("won", 1)]
    assert body["funnel"][0]["conversion"] is None and body["funnel"][-1]["conversion"] == 0.5
    abm, general = body["comparison"]["abm"], body["comparison"]["general"]
    assert (abm["total_spend"], abm["spend"], general["total_spend"]) == (4_000, {"content": 3_000,
                                                                                 "advertising": 1_000}, 6_000)
    assert (abm["revenue"], abm["roi"], body["spend"], body["targeted"], body["empty"]) == (
        50_000, (50_000 - 4_000) / 4_000, 10_000, 3, False)


def test_tier_and_plan_narrow_the_scope(app, client):
    build_october(app)
    plan = plans.create_plan("Empty", "", [], None, NOW)
    api = caller(client, "marketer", scope="read")
    tier_one = api.get("/api/v1/kpis", query_string={**OCTOBER, "tier": 1}).get_json()
    assert tier_one["scope"]["tier"] == 1 and tier_one["targeted"] == 2 and tier_one["notes"]
    in_plan = api.get("/api/v1/kpis", query_string={**OCTOBER, "plan": plan.id}).get_json()
    assert in_plan["scope"]["plan_id"] == plan.id and in_plan["targeted"] == 0
    assert_problem(api.get("/api/v1/kpis", query_string={**OCTOBER, "plan": 4242}), 422, "plan")
    assert_problem(api.get("/api/v1/kpis", query_string={**OCTOBER, "tier": 4}), 422, "tier")


def test_the_default_period_is_the_last_90_days_up_to_today(client):
    body = caller(client, "sales", scope="read").get("/api/v1/kpis").get_json()
    today = datetime.now(timezone.utc).date()
    assert (body["scope"]["period"], body["scope"]["end"]) == ("90d", today.isoformat())
    assert body["scope"]["start"] == (today - timedelta(days=89)).isoformat() and body["empty"] is True
    assert {k["value"] for k in body["kpis"] if k["unit"] == "percent"} == {None}


def test_a_bad_period_names_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/kpis?period=forever"), 422, "period")
    assert_problem(api.get("/api/v1/kpis?period=custom&end=2026-10-31"), 422, "start")
    assert_problem(api.get("/api/v1/kpis?period=custom&start=2026-10-31&end=2026-10-01"), 422, "end")
    assert_problem(api.get("/api/v1/kpis?period=custom&start=2020-01-01&end=2026-10-01"), 422, "end")
    assert_problem(api.get("/api/v1/kpis?period=custom&start=0001-01-01&end=0001-01-02"), 422, "start")
    assert_problem(api.get("/api/v1/kpis?period=custom&start=2026-13-01&end=2026-10-01"), 422, "start")


def test_kpis_need_a_token(client):
    assert_problem(client.get("/api/v1/kpis"), 401)
