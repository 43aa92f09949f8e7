"""/api/v1/touchpoints: the touchpoints plans scheduled, filtered, with their history; reschedule and cancel."""
from datetime import datetime, timedelta, timezone

from abmcontent import plans, touchpoints
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, Touchpoint
from tests.api.helpers import assert_problem, caller
from tests.conftest import NOW


def _account(name="Harborview Bank") -> Account:
    account = Account(name=name, domain=f"{name.lower().replace(' ', '')}.example", industry="financials",
                      country="US", region="NY")
    db.session.add(account)
    db.session.add(Contact(account=account, first_name="Priya", email=f"priya@{account.domain}",
                           persona="economic_buyer"))
    db.session.commit()
    return account


def _applied(*accounts, name="Sequence"):
    plan = plans.create_plan(name, "", [plans.StepInput("email", 0, 0, subject="Hello"),
                                        plans.StepInput("sales_task", 7, 0)], None, NOW)
    plans.apply(plan.id, [a.id for a in accounts], datetime.now(timezone.utc) + timedelta(days=14), None, NOW)
    return plan


def _rows(account_id=None) -> list[Touchpoint]:
    query = db.select(Touchpoint).order_by(Touchpoint.due_at)
    if account_id is not None:
        query = query.where(Touchpoint.account_id == account_id)
    return list(db.session.scalars(query))


def test_the_list_filters_by_account_plan_channel_status_and_due_time_latest_first(client):
    bank, acme = _account(), _account("Acme")
    plan = _applied(bank, acme)
    other = _applied(bank, name="Other")
    api = caller(client, "sales", scope="read")
    body = api.get(f"/api/v1/touchpoints?account_id={bank.id}&plan_id={plan.id}").get_json()
    assert body["total"] == 2 and [t["channel"] for t in body["items"]] == ["sales_task", "email"]
    assert all(t["plan_id"] == plan.id for t in body["items"])
    assert api.get(f"/api/v1/touchpoints?plan_id={other.id}").get_json()["total"] == 2
    emails = api.get("/api/v1/touchpoints?channel=email&status=planned").get_json()
    assert emails["total"] == 3 and {t["contact_id"] for t in emails["items"]} != {None}
    first_due = min(t.due_at for t in _rows())
    window = {"due_from": first_due.isoformat(), "due_to": (first_due + timedelta(seconds=1)).isoformat()}
    assert api.get("/api/v1/touchpoints", query_string=window).get_json()["total"] >= 1
    assert api.get("/api/v1/touchpoints?status=sent").get_json()["total"] == 0
    paged = api.get("/api/v1/touchpoints?per_page=4").get_json()
    assert (len(paged["items"]), paged["pages"]) == (4, 2)


def test_bad_filters_are_422_naming_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/touchpoints?channel=fax"), 422, "channel")
    assert_problem(api.get("/api/v1/touchpoints?status=lost"), 422, "status")
    assert_problem(api.get("/api/v1/touchpoints?account_id=99999999999"), 422, "account_id")
    assert_problem(api.get("/api/v1/touchpoints?due_from=2026-11-01T00:00:00"), 422, "due_from")  # no zone
    for extreme in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        assert api.get("/api/v1/touchpoints", query_string={"due_to": extreme}).status_code == 200


def test_one_touchpoint_carries_its_history(client):
    account = _account()
    _applied(account)
    touchpoint = _rows()[0]
    plans.reschedule(touchpoint.id, touchpoint.due_at + timedelta(days=1), None, NOW)
    body = caller(client, "sales", scope="read").get(f"/api/v1/touchpoints/{touchpoint.id}").get_json()
    assert body["id"] == touchpoint.id and body["status"] == "planned" and body["contact_id"] is not None
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [("planned", "planned")]
    assert body["history"][0]["reason"].startswith("rescheduled to")


def test_an_unknown_touchpoint_is_404(client):
    api = caller(client, "campaign")
    assert_problem(api.get("/api/v1/touchpoints/4242"), 404)
    assert_problem(api.post("/api/v1/touchpoints/4242/cancel", json={}), 404)
    assert_problem(api.post("/api/v1/touchpoints/4242/reschedule",
                            json={"due_at": "2030-01-01T09:00:00+00:00"}), 404)
    assert_problem(api.get("/api/v1/touchpoints/99999999999"), 404)


def test_a_campaign_manager_reschedules_a_planned_touchpoint_and_its_window_moves(client):
    _applied(_account())
    touchpoint = _rows()[0]
    length = touchpoint.window_end_at - touchpoint.due_at
    api = caller(client, "campaign")
    later = (touchpoint.due_at + timedelta(days=3)).astimezone(timezone(timedelta(hours=9)))
    response = api.post(f"/api/v1/touchpoints/{touchpoint.id}/reschedule", json={"due_at": later.isoformat()})
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.refresh(touchpoint)
    assert touchpoint.due_at == later and touchpoint.window_end_at - touchpoint.due_at == length
    assert response.get_json()["history"][-1]["worker"] == api.user.email


def test_rescheduling_into_the_past_or_without_a_zone_is_refused(client):
    _applied(_account())
    touchpoint = _rows()[0]
    api = caller(client, "campaign")
    path = f"/api/v1/touchpoints/{touchpoint.id}/reschedule"
    assert_problem(api.post(path, json={"due_at": "2020-01-01T09:00:00+00:00"}), 422, "due_at")
    assert_problem(api.post(path, json={"due_at": "2030-01-01T09:00:00"}), 422, "due_at")
    assert_problem(api.post(path, json={"due_at": "9999-12-31T23:00:00-05:00"}), 422, "due_at")
    assert_problem(api.post(path, json={}), 422, "due_at")


def test_cancelling_records_who_and_why_and_a_sent_touchpoint_cannot_be_cancelled(client):
    _applied(_account())
    first, second = _rows()
    api = caller(client, "campaign")
    response = api.post(f"/api/v1/touchpoints/{first.id}/cancel", json={"reason": "Met them at the fair"})
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert response.get_json()["history"][-1]["reason"] == f"cancelled by {api.user.email}: Met them at the fair"
    assert_problem(api.post(f"/api/v1/touchpoints/{first.id}/cancel", json={}), 409)
    claimed = touchpoints.claim_due(second.due_at + timedelta(seconds=1), "worker-1", batch=10)
    assert second.id in claimed and touchpoints.mark_sent(second.id, "worker-1", "<id@x>", second.due_at)
    db.session.expire_all()  # mark_sent wrote on its own connection, as the dispatcher does
    assert_problem(api.post(f"/api/v1/touchpoints/{second.id}/cancel", json={}), 409)
    assert_problem(api.post(f"/api/v1/touchpoints/{second.id}/cancel", json={"reason": "x" * 501}), 422, "reason")


def test_only_campaign_managers_reschedule_or_cancel(client):
    _applied(_account())
    touchpoint = _rows()[0]
    for role in ("sales", "marketer"):
        api = caller(client, role)
        assert_problem(api.post(f"/api/v1/touchpoints/{touchpoint.id}/cancel", json={}), 403)
        assert_problem(api.post(f"/api/v1/touchpoints/{touchpoint.id}/reschedule",
                                json={"due_at": "2030-01-01T09:00:00+00:00"}), 403)
    assert_problem(caller(client, "campaign", scope="read").post(f"/api/v1/touchpoints/{touchpoint.id}/cancel",
                                                                 json={}), 403)
    db.session.refresh(touchpoint)
    assert touchpoint.status == "planned"
