"""The scoring settings page and the engagement score on the account page."""
from __future__ import annotations

from abmcontent import engagement_scoring, tracking
from abmcontent.models import EVENT_TYPES
from tests.conftest import login, make_user
from tests.test_accounts import make_account


def _form(**changes):
    form = {f"weight_{k}": str(v) for k, v in engagement_scoring.DEFAULT_WEIGHTS.items()}
    form.update(half_life_days="30", mqa_max_tier="2", mqa_min_score="40", surge_factor="2", surge_min_points="10")
    form.update(changes)
    return form


def test_a_marketer_changes_the_points_and_the_half_life(client):
    login(client, make_user("marketer"))
    page = client.get("/engagement/scoring").text
    assert "Engagement scoring" in page and all(f'name="weight_{k}"' in page for k in EVENT_TYPES)
    response = client.post("/engagement/scoring", data=_form(weight_reply="25", half_life_days="14", surge_factor="3"))
    assert response.status_code == 303
    saved = engagement_scoring.settings()
    assert saved.weights["reply"] == 25.0 and saved.half_life_days == 14 and saved.surge_factor == 3.0
    assert 'value="25"' in client.get("/engagement/scoring").text


def test_bad_points_come_back_explained_with_what_was_typed(client):
    login(client, make_user("marketer"))
    response = client.post("/engagement/scoring", data=_form(weight_reply="lots", half_life_days="0"))
    assert response.status_code == 422
    assert 'value="lots"' in response.text and "Use a half-life of 1 to 365 days." in response.text
    assert engagement_scoring.settings().weights["reply"] == engagement_scoring.DEFAULT_WEIGHTS["reply"]


def test_a_sales_rep_reads_the_scoring_but_cannot_change_it(client):
    login(client, make_user("sales"))
    assert "readonly" in client.get("/engagement/scoring").text
    assert client.post("/engagement/scoring", data=_form()).status_code == 403


def test_the_account_page_shows_its_engagement_score(app, client):
    user = make_user("campaign")
    login(client, user)
    account = make_account(user, name="Harborview Bank", domains=["harborview.example"])
    account.tier = 1
    from abmcontent.extensions import db

    db.session.commit()
    from datetime import datetime, timezone

    tracking.record("form_fill", app=app, account_id=account.id, occurred_at=datetime.now(timezone.utc),
                    channel="web")
    tracking.record("form_fill", app=app, account_id=account.id, occurred_at=datetime.now(timezone.utc),
                    channel="web", machine="scanner_agent")
    tracking.flush(app)
    html = client.get(f"/accounts/{account.id}").text
    assert "Engagement score: 15.0" in html and "How it is scored" in html
    assert "Surging: 15.0 points this week, 0.0 in a usual week" in html  # from nothing to a form fill
    assert ">MQA<" not in html  # 15 points: below the 40 an MQA needs
    client.post("/engagement/scoring", data=_form(mqa_min_score="10"))
    assert ">MQA<" in client.get(f"/accounts/{account.id}").text


def test_alerts_show_in_the_navigation_and_on_their_page_until_read(app, client):
    from abmcontent import alerts
    from tests.test_alerts import _account, _did

    owner = make_user("sales")
    login(client, owner)
    empty = client.get("/alerts").text
    assert "No alerts yet" in empty and "unread" not in empty
    account = _account(owner)
    from tests.conftest import NOW

    for _n in range(3):
        _did(app, "form_fill", account)
    tracking.flush(app)
    alerts.evaluate(NOW)
    page = client.get("/alerts").text
    assert "2<span class=\"visually-hidden\"> unread" in page and "is now a marketing-qualified account" in page
    assert f"/accounts/{account.id}" in page
    client.post("/alerts/read")
    assert "unread" not in client.get("/alerts").text


def test_the_owner_hands_off_from_the_account_page_and_marketing_reads_why(app, client):
    from tests.test_alerts import _account

    owner = make_user("sales")
    login(client, owner)
    account = _account(owner)
    client.post("/engagement/scoring", data=_form())  # a sales rep cannot; the defaults stand
    from tests.conftest import NOW

    engagement_scoring.save_settings({}, "30", None, NOW, {"mqa_max_tier": "1", "mqa_min_score": "0"})
    page = client.get(f"/accounts/{account.id}").text
    assert "Hand-off to sales" in page and "marketing-qualified" in page
    refused = client.post(f"/engagement/handoffs/{account.id}", data={"status": "rejected", "reason": ""},
                          follow_redirects=True).text
    assert "Say why, so marketing can do better" in refused
    client.post(f"/engagement/handoffs/{account.id}", data={"status": "rejected", "reason": "Wrong contact"})
    marketing = app.test_client()
    login(marketing, make_user("marketer"))
    report = marketing.get("/engagement/handoffs").text
    assert "Harborview Bank" in report and "Wrong contact" in report and "0 accepted, 1 rejected" in report
