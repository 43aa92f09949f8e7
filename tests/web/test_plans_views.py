"""Plans in the UI: templates, adding accounts from the account list, the calendar, pausing,
resuming and cancelling an account, and moving one touchpoint from the account page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from abmcontent import plans
from abmcontent.extensions import db
from abmcontent.models import Contact, Enrollment, Plan, Touchpoint
from tests.conftest import login, make_user
from tests.test_accounts import make_account


@pytest.fixture
def campaign(client):
    user = make_user("campaign")
    login(client, user)
    return user


def _account(user, name="Harborview Bank", domain="harborview.example"):
    account = make_account(user, name=name, domains=[domain])
    for persona in ("economic_buyer", "champion", "technical_evaluator"):
        db.session.add(Contact(account=account, first_name=persona, email=f"{persona}@{domain}", persona=persona))
    db.session.commit()
    return account


def test_the_empty_plan_list_offers_the_templates(client, campaign):
    html = client.get("/plans").get_data(as_text=True)
    assert "No plans yet" in html and "Add the plan templates" in html
    client.post("/plans/templates")
    html = client.get("/plans").get_data(as_text=True)
    assert "Tier 1 executive sequence (six weeks)" in html


def test_ticked_accounts_are_added_to_a_plan_from_the_account_list(client, campaign):
    plans.install_templates(None, plans.datetime.now(plans.timezone.utc))
    plan = db.session.scalar(select(Plan).where(Plan.name.like("Tier 1%")))
    a, b = _account(campaign), _account(campaign, "Hanbit Data", "hanbit.example")
    listing = client.get("/accounts").get_data(as_text=True)
    assert "Add to plan" in listing and plan.name in listing
    response = client.post("/plans/apply", data={"plan_id": plan.id, "ids": [a.id, b.id], "scope": "selected"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/plans/{plan.id}")
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "Harborview Bank" in page and "Hanbit Data" in page and "Coming up" in page and "Direct mail" in page
    # 2 accounts × (4 steps × 2 executives + 2 sales tasks)
    assert db.session.scalar(select(db.func.count(Touchpoint.id))) == 2 * (4 * 2 + 2)
    again = client.post("/plans/apply", data={"plan_id": plan.id, "ids": [a.id], "scope": "selected"},
                        follow_redirects=True).get_data(as_text=True)
    assert "1 were already in it" in again


def test_an_account_is_paused_resumed_and_cancelled_in_a_plan(client, campaign):
    plans.install_templates(None, plans.datetime.now(plans.timezone.utc))
    plan = db.session.scalar(select(Plan).where(Plan.name.like("Technical%")))
    account = _account(campaign)
    client.post("/plans/apply", data={"plan_id": plan.id, "ids": [account.id]})
    enrollment = db.session.scalar(select(Enrollment))
    client.post(f"/plans/enrollments/{enrollment.id}", data={"action": "pause"})
    assert enrollment.status == "paused"
    client.post(f"/plans/enrollments/{enrollment.id}", data={"action": "resume"})
    assert enrollment.status == "active"
    client.post(f"/plans/enrollments/{enrollment.id}", data={"action": "cancel"})
    assert enrollment.status == "cancelled"
    statuses = set(db.session.scalars(select(Touchpoint.status)))
    assert statuses == {"cancelled"}


def test_one_touchpoint_is_moved_from_the_account_page(client, campaign):
    plans.install_templates(None, plans.datetime.now(plans.timezone.utc))
    plan = db.session.scalar(select(Plan).where(Plan.name.like("Technical%")))
    account = _account(campaign)
    client.post("/plans/apply", data={"plan_id": plan.id, "ids": [account.id]})
    touchpoint = db.session.scalar(select(Touchpoint).order_by(Touchpoint.due_at))
    page = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Touchpoints" in page and "Email" in page and "Move" in page
    response = client.post(f"/plans/touchpoints/{touchpoint.id}/reschedule",
                           data={"due_at": "2031-01-06T10:30", "account_id": account.id})
    assert response.status_code == 303
    db.session.refresh(touchpoint)
    assert touchpoint.due_at.isoformat().startswith("2031-01-06T10:30")
    bad = client.post(f"/plans/touchpoints/{touchpoint.id}/reschedule",
                      data={"due_at": "2001-01-01T00:00", "account_id": account.id}, follow_redirects=True)
    assert "Choose a time in the future" in bad.get_data(as_text=True)


def test_a_sales_rep_sees_plans_but_cannot_add_accounts(client):
    login(client, make_user("sales"))
    assert client.get("/plans").status_code == 200
    assert client.post("/plans/apply", data={"plan_id": 1}).status_code == 403
