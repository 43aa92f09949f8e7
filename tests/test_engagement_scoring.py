"""Engagement scores: points per event type, faded by a half-life, machine events left out; on
SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from abmcontent import engagement_scoring as scoring
from abmcontent import tracking
from abmcontent.errors import PermissionDenied, ValidationError
from tests.conftest import NOW, make_user

SETTINGS = scoring.Settings(dict(scoring.DEFAULT_WEIGHTS), 30)


def test_an_event_counts_fully_today_half_after_one_half_life_and_a_quarter_after_two():
    assert scoring.fade(0, 30) == 1.0
    assert scoring.fade(30, 30) == 0.5
    assert scoring.fade(60, 30) == 0.25
    assert scoring.fade(-3, 30) == 1.0  # a clock a little ahead never makes an event worth more


def test_scores_add_weighted_faded_events_per_person():
    today, month_ago = NOW.date(), NOW.date() - timedelta(days=30)
    rows = [
        (1, "form_fill", today, 1, None),            # 15
        (1, "asset_open", month_ago, 2, None),       # 2 × 5 × ½ = 5
        (1, "time_on_page", today.isoformat(), 2, 1800.0),  # 30 min, capped at 2 × 10 min × 1 = 20
        (2, "event_declined", today, 1, None),       # worth nothing by default
        (3, "meeting_booked", date(2026, 9, 3), 1, None),  # 60 days: 30 × ¼ = 7.5
    ]
    assert scoring.combine(rows, SETTINGS, NOW) == {1: 40.0, 3: 7.5}


def _event(app, kind, days_ago=0, **fields):
    tracking.record(kind, app=app, occurred_at=NOW - timedelta(days=days_ago), channel="email", **fields)


def test_contact_and_account_scores_come_from_the_events_and_leave_machines_out(any_db_app):
    app = any_db_app
    _event(app, "email_click", account_id=10, contact_id=100)                             # 4
    _event(app, "email_open", account_id=10, contact_id=100, machine="apple_privacy_proxy")
    _event(app, "email_click", account_id=10, contact_id=100, machine="clicked_at_delivery")
    _event(app, "asset_download", days_ago=30, account_id=10, contact_id=101)            # 8 × ½
    _event(app, "page_view", account_id=10)                                               # 1, anonymous
    _event(app, "reply", account_id=11, contact_id=110, touchpoint_id=5)         # 15
    _event(app, "reply", days_ago=-1, account_id=11, contact_id=110)                      # tomorrow: not yet
    tracking.flush(app)
    assert scoring.contact_scores([100, 101, 110, 999], NOW) == {100: 4.0, 101: 4.0, 110: 15.0, 999: 0.0}
    assert scoring.account_scores([10, 11], NOW) == {10: 9.0, 11: 15.0}


def test_marketers_change_the_weights_and_the_half_life_and_scores_follow(app):
    marketer = make_user("marketer")
    _event(app, "email_click", days_ago=10, account_id=10, contact_id=100)
    tracking.flush(app)
    before = scoring.account_scores([10], NOW)[10]
    weights = {kind: str(value) for kind, value in scoring.DEFAULT_WEIGHTS.items()}
    weights["email_click"] = "8"
    saved = scoring.save_settings(weights, "10", marketer, NOW)
    assert saved.weights["email_click"] == 8.0 and saved.half_life_days == 10
    assert scoring.account_scores([10], NOW)[10] == 4.0 != before  # 8 points, one half-life old


@pytest.mark.parametrize("kind,value,half_life,key", [
    ("email_click", "-1", "30", "weight_email_click"), ("reply", "lots", "30", "weight_reply"),
    ("reply", "nan", "30", "weight_reply"), ("reply", "2000", "30", "weight_reply"),
    ("reply", "5", "0", "half_life_days"), ("reply", "5", "a month", "half_life_days"),
])
def test_bad_settings_are_refused_with_the_field_named(app, kind, value, half_life, key):
    with pytest.raises(ValidationError) as error:
        scoring.save_settings({kind: value}, half_life, make_user("marketer"), NOW)
    assert key in error.value.errors
    assert scoring.settings() == scoring.Settings(dict(scoring.DEFAULT_WEIGHTS), 30)


def test_a_sales_rep_cannot_change_the_scoring(app):
    with pytest.raises(PermissionDenied):
        scoring.save_settings({}, "30", make_user("sales"), NOW)


# --- MQA and intent surge --------------------------------------------------------------------------

@pytest.mark.parametrize("tier,score,mqa", [(1, 40.0, True), (2, 55.0, True), (3, 90.0, False),
                                            (1, 39.9, False), (None, 500.0, False)])
def test_an_mqa_is_a_good_enough_tier_with_enough_engagement(tier, score, mqa):
    assert scoring.is_mqa(tier, score, SETTINGS) is mqa


def test_a_surge_is_this_week_well_above_the_accounts_own_usual_week():
    usual_weeks = {n: 4.0 for n in range(1, 9)}                    # 4 points a week, as a rule
    assert scoring.surge({0: 8.0, **usual_weeks}, SETTINGS) == scoring.Surge(8.0, 4.0, False)  # < 10 points
    assert scoring.surge({0: 12.0, **usual_weeks}, SETTINGS).surging                            # 3× and ≥ 10
    busy = {n: 20.0 for n in range(1, 9)}
    assert not scoring.surge({0: 30.0, **busy}, SETTINGS).surging   # a busy account's normal week
    assert scoring.surge({0: 10.0}, SETTINGS).surging               # new interest from nothing


def test_weekly_points_put_each_event_in_its_week_and_leave_machines_out(any_db_app):
    app = any_db_app
    _event(app, "form_fill", days_ago=1, account_id=10)                      # this week: 15
    _event(app, "email_click", days_ago=8, account_id=10)                    # last week: 4
    _event(app, "email_click", days_ago=8, account_id=10, machine="scanner_agent")
    _event(app, "reply", days_ago=100, account_id=10)                        # too old to matter
    tracking.flush(app)
    assert scoring.weekly_points([10, 11], NOW) == {10: {0: 15.0, 1: 4.0}, 11: {}}
    found = scoring.surges([10], NOW)[10]
    assert (found.this_week, found.usual, found.surging) == (15.0, 0.5, True)


def test_the_mqa_and_surge_rules_are_saved_and_checked(app):
    marketer = make_user("marketer")
    rules = {"mqa_max_tier": "1", "mqa_min_score": "60", "surge_factor": "3", "surge_min_points": "20"}
    saved = scoring.save_settings({}, "30", marketer, NOW, rules)
    assert (saved.mqa_max_tier, saved.mqa_min_score, saved.surge_factor, saved.surge_min_points) == (1, 60, 3, 20)
    with pytest.raises(ValidationError) as error:
        scoring.save_settings({}, "30", marketer, NOW, {"mqa_max_tier": "1.5", "surge_factor": "0.5"})
    assert set(error.value.errors) == {"mqa_max_tier", "surge_factor"}
    assert scoring.settings().mqa_max_tier == 1
