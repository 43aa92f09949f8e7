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
from tests.test_plans import with_events


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
    refused = client.post("/plans/apply", data={"plan_id": plan.id, "ids": [a.id], "scope": "selected"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Step 4 invites to an event: choose the event." in refused
    assert db.session.scalar(select(db.func.count(Enrollment.id))) == 0
    with_events(plan)
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
    plan = with_events(db.session.scalar(select(Plan).where(Plan.name.like("Technical%"))))
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
    plan = with_events(db.session.scalar(select(Plan).where(Plan.name.like("Technical%"))))
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


# --- the step editor ------------------------------------------------------------------------------

HX = {"HX-Request": "true"}


def _step_form(**values):
    form = {"channel": "email", "offset_days": "0", "offset_hours": "0", "window_start": "09:00",
            "window_end": "17:00", "asset_id": "", "subject": "", "event_id": "", "mail_format": "letter",
            "skip_if_engaged": "1", "stop_on": ["meeting_booked", "reply"]}
    form.update(values)
    return form


def test_a_plan_is_built_in_the_browser_step_by_step(client, campaign):
    response = client.post("/plans", data={"name": "Tier 2 banks", "description": "Four weeks"})
    plan = db.session.scalar(select(Plan).where(Plan.name == "Tier 2 banks"))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/plans/{plan.id}#steps")
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "No steps yet" in page and "Add a step" in page
    fragment = client.post(f"/plans/{plan.id}/steps", headers=HX,
                           data=_step_form(subject="Hi {{ account.name }}", personas=["champion"]))
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html and "Step added." in html
    assert "“Hi {{ account.name }}”" in html and "Champion" in html
    client.post(f"/plans/{plan.id}/steps", headers=HX, data=_step_form(channel="sales_task", offset_days="3"))
    db.session.refresh(plan)
    assert [s.channel for s in plan.steps] == ["email", "sales_task"]
    first, second = plan.steps
    client.post(f"/plans/{plan.id}/steps/{second.id}/move", headers=HX, data={"direction": "up"})
    db.session.refresh(plan)
    assert [s.id for s in plan.steps] == [second.id, first.id]
    edit = client.get(f"/plans/{plan.id}/steps/{first.id}?edit=1", headers=HX).get_data(as_text=True)
    assert 'value="Hi {{ account.name }}"' in edit and "Save step" in edit
    saved = client.post(f"/plans/{plan.id}/steps/{first.id}", headers=HX,
                        data=_step_form(subject="Hello again", offset_days="5")).get_data(as_text=True)
    assert "Step saved." in saved and "Day 5" in saved
    removed = client.post(f"/plans/{plan.id}/steps/{second.id}/delete", headers=HX).get_data(as_text=True)
    assert "Step removed." in removed
    db.session.refresh(plan)
    assert [(s.subject, s.offset_days) for s in plan.steps] == [("Hello again", 5)]


def test_a_bad_step_comes_back_with_its_errors_and_what_was_typed(client, campaign):
    plan = plans.create_plan("Plan", "", [plans.StepInput("email", subject="Fine")], campaign,
                             plans.datetime.now(plans.timezone.utc))
    step_id = plan.steps[0].id
    response = client.post(f"/plans/{plan.id}/steps/{step_id}", headers=HX,
                           data=_step_form(subject="Hi {{ account.password }}", window_start="18:00",
                                           window_end="09:00", offset_days="many"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Not saved" in html
    assert 'value="Hi {{ account.password }}"' in html and 'value="18:00"' in html
    assert 'aria-invalid="true"' in html and "Use 0–365 days" in html
    db.session.refresh(plan.steps[0])
    assert plan.steps[0].subject == "Fine"
    added = client.post(f"/plans/{plan.id}/steps", headers=HX, data=_step_form(channel="fax"))
    assert added.status_code == 422 and "Choose a channel from the list." in added.get_data(as_text=True)


def test_the_step_editor_works_without_javascript(client, campaign):
    plan = plans.create_plan("Plan", "", [plans.StepInput("email", subject="Fine")], campaign,
                             plans.datetime.now(plans.timezone.utc))
    step_id = plan.steps[0].id
    response = client.post(f"/plans/{plan.id}/steps", data=_step_form(channel="sales_task", offset_days="2"))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Step added." in page
    edit = client.get(f"/plans/{plan.id}/steps/{step_id}?edit=1")
    assert edit.status_code == 303
    assert "Save step" in client.get(edit.headers["Location"]).get_data(as_text=True)
    bad = client.post(f"/plans/{plan.id}/steps/{step_id}", data=_step_form(subject="a\nb"))
    assert bad.status_code == 422 and "<html" in bad.get_data(as_text=True)


def test_a_plan_is_renamed_and_duplicated(client, campaign):
    plan = plans.create_plan("Plan", "", [plans.StepInput("email", subject="Fine")], campaign,
                             plans.datetime.now(plans.timezone.utc))
    assert client.post(f"/plans/{plan.id}", data={"name": "", "description": ""}).status_code == 422
    client.post(f"/plans/{plan.id}", data={"name": "Renamed", "description": "Now with words"})
    assert plan.name == "Renamed"
    response = client.post(f"/plans/{plan.id}/duplicate")
    copy = db.session.scalar(select(Plan).where(Plan.name == "Copy of Renamed"))
    assert response.headers["Location"].endswith(f"/plans/{copy.id}") and len(copy.steps) == 1


def test_a_sales_rep_cannot_edit_steps(client):
    plan = plans.create_plan("Plan", "", [plans.StepInput()], None, plans.datetime.now(plans.timezone.utc))
    login(client, make_user("sales"))
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "Add a step" not in page and "Edit" not in page
    assert client.post(f"/plans/{plan.id}/steps", data=_step_form()).status_code == 403
    assert client.post(f"/plans/{plan.id}/steps/{plan.steps[0].id}/delete").status_code == 403
    assert client.get("/plans/new").status_code == 403


def test_a_whole_plan_is_paused_resumed_and_cancelled_and_each_step_shows_what_happened(client, campaign):
    plan = plans.create_plan("Two emails", "", [plans.StepInput("email", 0, subject="One"),
                                                plans.StepInput("email", 7, subject="Two")], campaign,
                             plans.datetime.now(plans.timezone.utc))
    a, b = _account(campaign), _account(campaign, "Hanbit Data", "hanbit.example")
    plans.apply(plan.id, [a.id, b.id], plans.datetime.now(plans.timezone.utc), campaign,
                plans.datetime.now(plans.timezone.utc))
    page = client.post(f"/plans/{plan.id}/all", data={"action": "pause"}, follow_redirects=True)
    assert "Paused for 2 accounts." in page.get_data(as_text=True)
    assert set(db.session.scalars(select(Enrollment.status))) == {"paused"}
    client.post(f"/plans/{plan.id}/all", data={"action": "resume"})
    assert set(db.session.scalars(select(Enrollment.status))) == {"active"}
    html = client.post(f"/plans/{plan.id}/all", data={"action": "cancel"}, follow_redirects=True).get_data(as_text=True)
    assert "Cancelled for 2 accounts" in html
    assert set(db.session.scalars(select(Touchpoint.status))) == {"cancelled"}
    assert html.count('status status-cancelled">Cancelled 6') == 2  # 2 accounts × 3 stakeholders per step
