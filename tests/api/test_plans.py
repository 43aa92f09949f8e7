"""/api/v1/plans: reading plans, building them, applying them to accounts, and the accounts in them."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from abmcontent import plans
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, Enrollment, Touchpoint
from tests.api.helpers import assert_problem, caller
from tests.conftest import NOW, make_user


def _account(name="Harborview Bank", **people) -> Account:
    account = Account(name=name, domain=f"{name.lower().replace(' ', '')}.example", industry="financials",
                      country="US", region="NY")
    db.session.add(account)
    for persona in people or {"economic_buyer": 1}:
        db.session.add(Contact(account=account, first_name=persona, email=f"{persona}@{account.domain}",
                               persona=persona))
    db.session.commit()
    return account


def _plan(name="Tier 1 sequence", steps=None):
    steps = steps if steps is not None else [
        plans.StepInput("email", 0, 0, personas=["economic_buyer"], subject="Hello {{ account.name }}"),
        plans.StepInput("sales_task", 3, 0)]
    return plans.create_plan(name, "For the bank", steps, None, NOW)


def _soon() -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=14)


def test_list_shows_each_plan_with_its_accounts_and_planned_touchpoints(client):
    first, second = _plan("A plan"), _plan("B plan")
    plans.apply(first.id, [_account().id], _soon(), None, NOW)
    api = caller(client, "sales", scope="read")
    body = api.get("/api/v1/plans?per_page=1").get_json()
    assert [(p["name"], p["accounts"], p["planned_touchpoints"]) for p in body["items"]] == [("A plan", 1, 2)]
    assert body["total"] == 2 and "steps" not in body["items"][0]
    assert [p["id"] for p in api.get(body["links"]["next"]).get_json()["items"]] == [second.id]


def test_one_plan_has_its_steps_outcomes_and_what_it_still_needs(client):
    plan = _plan()
    plans.apply(plan.id, [_account().id], _soon(), None, NOW)
    body = caller(client, "marketer", scope="read").get(f"/api/v1/plans/{plan.id}").get_json()
    assert [s["channel"] for s in body["steps"]] == ["email", "sales_task"]
    assert body["steps"][0]["personas"] == ["economic_buyer"] and body["steps"][0]["skip_if_engaged"] is True
    assert body["steps"][0]["touchpoints"] == {"planned": 1} and body["problems"] == []
    empty = _plan("Empty", steps=[])
    assert caller(client, "sales", scope="read").get(f"/api/v1/plans/{empty.id}").get_json()["problems"]


def test_an_unknown_plan_is_404(client):
    api = caller(client, "campaign")
    assert_problem(api.get("/api/v1/plans/4242"), 404)
    assert_problem(api.post("/api/v1/plans/4242/applications", json={"account_ids": [1]}), 404)
    assert_problem(api.get("/api/v1/plans/4242/enrollments"), 404)


def test_a_campaign_manager_builds_a_plan_with_steps_and_edits_it(client):
    api = caller(client, "campaign")
    created = api.post("/api/v1/plans", json={"name": "Webinar follow-up", "steps": [
        {"channel": "email", "subject": "Thanks, {{ contact.first_name | \"there\" }}"},
        {"channel": "sales_task", "offset_days": 2}]})
    assert created.status_code == 201, created.get_data(as_text=True)
    plan = created.get_json()
    assert [s["offset_days"] for s in plan["steps"]] == [0, 2] and plan["steps"][0]["window_start"] == "09:00"
    added = api.post(f"/api/v1/plans/{plan['id']}/steps", json={"channel": "direct_mail", "offset_days": 7,
                                                                 "mail_format": "postcard"})
    assert added.status_code == 201 and added.get_json()["step"]["mail_format"] == "postcard"
    step_id = added.get_json()["step"]["id"]
    changed = api.patch(f"/api/v1/plans/{plan['id']}/steps/{step_id}", json={"offset_days": 9})
    assert changed.status_code == 200
    assert (changed.get_json()["step"]["offset_days"], changed.get_json()["step"]["mail_format"]) == (9, "postcard")
    moved = api.post(f"/api/v1/plans/{plan['id']}/steps/{step_id}/moves", json={"direction": "up"}).get_json()
    assert [s["channel"] for s in moved["steps"]] == ["email", "direct_mail", "sales_task"]
    assert api.delete(f"/api/v1/plans/{plan['id']}/steps/{step_id}").status_code == 200
    renamed = api.patch(f"/api/v1/plans/{plan['id']}", json={"description": "After the webinar"}).get_json()
    assert (renamed["name"], renamed["description"], len(renamed["steps"])) == (
        "Webinar follow-up", "After the webinar", 2)
    copy = api.post(f"/api/v1/plans/{plan['id']}/copies")
    assert copy.status_code == 201 and copy.get_json()["name"].endswith("Webinar follow-up")


def test_bad_steps_name_the_field_and_save_nothing(client):
    api = caller(client, "campaign")
    body = assert_problem(api.post("/api/v1/plans", json={"name": "X", "steps": [
        {"channel": "email", "subject": "Hi {{ account.password }}"}]}), 422)
    assert {e["field"] for e in body["errors"]} == {"steps.0.subject"}
    assert_problem(api.post("/api/v1/plans", json={"name": "X", "steps": [{"channel": "fax"}]}), 422, "steps.0.channel")
    assert_problem(api.post("/api/v1/plans", json={"name": "X", "steps": [{"channel": "email", "offset_days": 9999}]}),
                   422, "steps.0.offset_days")
    assert_problem(api.post("/api/v1/plans", json={"name": "a\x00b"}), 422, "name")
    assert caller(client, "sales", scope="read").get("/api/v1/plans").get_json()["total"] == 0


def test_a_step_of_another_plan_is_404(client):
    one, other = _plan("One"), _plan("Other")
    api = caller(client, "campaign")
    assert_problem(api.patch(f"/api/v1/plans/{one.id}/steps/{other.steps[0].id}", json={"offset_days": 1}), 404)
    assert_problem(api.delete(f"/api/v1/plans/{one.id}/steps/{other.steps[0].id}"), 404)


def test_applying_enrolls_accounts_once_and_schedules_their_touchpoints(client):
    plan = _plan()
    bank, other = _account(), _account("Hanbit Data", economic_buyer=1, champion=1)
    api = caller(client, "campaign")
    start = _soon()
    response = api.post(f"/api/v1/plans/{plan.id}/applications",
                        json={"account_ids": [bank.id, other.id, bank.id], "start": start.isoformat()})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {"enrolled": 2, "already": 0, "touchpoints": 4, "no_recipient": 0}
    assert all(t.due_at >= start for t in db.session.scalars(select(Touchpoint)))
    again = api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": [bank.id, other.id]}).get_json()
    assert (again["enrolled"], again["already"], again["touchpoints"]) == (0, 2, 0)
    assert db.session.scalar(select(func.count(Enrollment.id))) == 2


def test_a_start_in_the_past_or_as_a_date_starts_the_plan_no_earlier_than_now(client):
    plan = _plan(steps=[plans.StepInput("sales_task", 0, 0)])
    api = caller(client, "campaign")
    before = datetime.now(timezone.utc)
    assert api.post(f"/api/v1/plans/{plan.id}/applications",
                    json={"account_ids": [_account().id], "start": "2020-01-01"}).status_code == 201
    assert db.session.scalar(select(Enrollment.started_at)) >= before - timedelta(seconds=1)
    later = (datetime.now(timezone.utc) + timedelta(days=30)).date()
    assert api.post(f"/api/v1/plans/{plan.id}/applications",
                    json={"account_ids": [_account("Acme").id], "start": later.isoformat()}).status_code == 201
    newest = db.session.scalar(select(Enrollment).order_by(Enrollment.id.desc()))
    assert newest.started_at == datetime(later.year, later.month, later.day, tzinfo=timezone.utc)


def test_applying_refuses_unknown_accounts_bad_starts_and_unready_plans(client):
    plan, account = _plan(), _account()
    api = caller(client, "campaign")
    body = assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": [account.id, 777]}),
                          422, "account_ids")
    assert "777" in body["errors"][0]["message"]
    for start in ("2026-12-01T09:00:00", "tomorrow", "9999-12-31T23:00:00-05:00", "2999-01-01"):
        assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications",
                                json={"account_ids": [account.id], "start": start}), 422, "start")
    assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": []}), 422, "account_ids")
    assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": [0]}), 422, "account_ids.0")
    assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": list(range(1, 10_002))}),
                   422, "account_ids")
    empty = _plan("Empty", steps=[])
    assert_problem(api.post(f"/api/v1/plans/{empty.id}/applications", json={"account_ids": [account.id]}), 422, "plan")
    assert db.session.scalar(select(func.count(Enrollment.id))) == 0


def test_only_campaign_managers_change_plans(client):
    plan, account = _plan(), _account()
    for role in ("sales", "marketer"):
        api = caller(client, role)
        assert_problem(api.post(f"/api/v1/plans/{plan.id}/applications", json={"account_ids": [account.id]}), 403)
        assert_problem(api.post("/api/v1/plans", json={"name": "Mine"}), 403)
        assert_problem(api.post(f"/api/v1/plans/{plan.id}/steps", json={"channel": "email"}), 403)
        assert_problem(api.patch(f"/api/v1/plans/{plan.id}/enrollments", json={"status": "paused"}), 403)
    body = assert_problem(caller(client, "admin", scope="read").post(
        f"/api/v1/plans/{plan.id}/applications", json={"account_ids": [account.id]}), 403)
    assert "read" in body["detail"]
    assert db.session.scalar(select(func.count(Enrollment.id))) == 0


def test_enrollments_are_listed_and_paused_resumed_and_cancelled_one_by_one(client):
    plan = _plan()
    bank, other = _account(), _account("Acme")
    plans.apply(plan.id, [bank.id, other.id], _soon(), None, NOW)
    api = caller(client, "campaign")
    listed = api.get(f"/api/v1/plans/{plan.id}/enrollments").get_json()
    assert {e["account_name"] for e in listed["items"]} == {"Harborview Bank", "Acme"} and listed["total"] == 2
    enrollment_id = next(e["id"] for e in listed["items"] if e["account_id"] == bank.id)
    path = f"/api/v1/plans/{plan.id}/enrollments/{enrollment_id}"
    assert api.patch(path, json={"status": "paused"}).get_json()["status"] == "paused"
    assert_problem(api.patch(path, json={"status": "paused"}), 422, "status")
    assert api.get(f"/api/v1/plans/{plan.id}/enrollments?status=paused").get_json()["total"] == 1
    assert api.patch(path, json={"status": "active"}).get_json()["status"] == "active"
    assert api.patch(path, json={"status": "cancelled"}).get_json()["status"] == "cancelled"
    left = db.session.scalars(select(Touchpoint.status).where(Touchpoint.account_id == bank.id)).all()
    assert left == ["cancelled", "cancelled"]
    assert_problem(api.patch(path, json={"status": "stopped"}), 422, "status")
    assert_problem(api.patch(f"/api/v1/plans/{_plan('Other').id}/enrollments/{enrollment_id}",
                             json={"status": "paused"}), 404)
    assert_problem(caller(client, "sales").patch(path, json={"status": "active"}), 403)


def test_the_whole_plan_is_paused_for_every_account_at_once(client):
    plan = _plan()
    plans.apply(plan.id, [_account().id, _account("Acme").id], _soon(), None, NOW)
    api = caller(client, "campaign")
    assert api.patch(f"/api/v1/plans/{plan.id}/enrollments", json={"status": "paused"}).get_json() == {"changed": 2}
    assert api.patch(f"/api/v1/plans/{plan.id}/enrollments", json={"status": "paused"}).get_json() == {"changed": 0}
    assert set(db.session.scalars(select(Enrollment.status))) == {"paused"}


def test_the_ad_audience_lists_companies_whose_audience_touchpoint_went_out(any_db_app):
    plan = _plan(steps=[plans.StepInput("ad_audience", 0, 0)])
    account = _account()
    plans.apply(plan.id, [account.id], _soon(), None, NOW)
    api = caller(any_db_app.test_client(), "marketer", scope="read")
    assert api.get(f"/api/v1/plans/{plan.id}/audience").get_json() == []
    db.session.execute(Touchpoint.__table__.update().values(status="sent"))
    db.session.commit()
    rows = api.get(f"/api/v1/plans/{plan.id}/audience").get_json()
    assert [(r["companyname"], r["companywebsitedomain"], r["state"]) for r in rows] == [
        ("Harborview Bank", "harborviewbank.example", "NY")]


def test_a_role_change_applies_to_the_tokens_the_user_already_has(client):
    user = make_user("sales")
    api = caller(client, user=user)
    plan = _plan()
    assert_problem(api.post(f"/api/v1/plans/{plan.id}/copies"), 403)
    user.role = "campaign"
    db.session.commit()
    assert api.post(f"/api/v1/plans/{plan.id}/copies").status_code == 201
