"""/api/v1/events: engagement reported by other systems (all or nothing, idempotent), and read back."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from abmcontent import engagement_scoring, kpis
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, AccountMilestone, Contact, EngagementEvent
from tests.api.helpers import assert_problem, caller
from tests.conftest import make_asset, make_user


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ago(**delta) -> str:
    return (_now() - timedelta(**delta)).isoformat()


def _bank(owner=None) -> tuple[Account, Contact]:
    account = Account(name="Harborview Bank", domain="harborview.example", industry="financials", tier=1,
                      owner_id=owner.id if owner else None, target_status="agreed")
    account.domains.append(AccountDomain(domain="harborview.example"))
    contact = Contact(account=account, first_name="Priya", email="priya@harborview.example", persona="economic_buyer")
    db.session.add_all([account, contact])
    db.session.commit()
    return account, contact


def _count() -> int:
    return db.session.scalar(select(func.count(EngagementEvent.id)))


def test_a_batch_is_stored_with_each_person_and_account_resolved(any_db_app):
    account, priya = _bank()
    api = caller(any_db_app.test_client(), "marketer")
    response = api.post("/api/v1/events", json={"events": [
        {"id": "cvent-1", "type": "event_registered", "occurred_at": _ago(days=3), "contact_id": priya.id,
         "detail": {"event": "Data Summit 2026", "seats": 2}},
        {"id": "cvent-2", "type": "event_attended", "occurred_at": _ago(days=1), "email": "PRIYA@harborview.example",
         "value": 45},
        {"id": "sf-9", "type": "meeting_booked", "occurred_at": _ago(hours=2), "domain": "www.harborview.example"},
        {"type": "reply", "occurred_at": _ago(hours=1), "account_id": account.id},
    ]})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["received"], body["stored"], body["duplicates"]) == (4, 4, 0)
    assert [r["id"] for r in body["results"]] == ["cvent-1", "cvent-2", "sf-9", None]
    rows = {e.id: e for e in db.session.scalars(select(EngagementEvent))}
    stored = [rows[r["event_id"]] for r in body["results"]]
    assert [(e.type, e.account_id, e.contact_id) for e in stored] == [
        ("event_registered", account.id, priya.id), ("event_attended", account.id, priya.id),
        ("meeting_booked", account.id, None), ("reply", account.id, None)]
    assert all(e.channel == "api" and e.machine == "" for e in stored) and stored[1].value == 45


def test_a_retried_batch_stores_nothing_twice(any_db_app):
    _account, priya = _bank()
    client = any_db_app.test_client()
    api = caller(client, "campaign")
    batch = {"events": [{"id": "hs-1", "type": "form_fill", "occurred_at": _ago(days=2), "contact_id": priya.id},
                        {"id": "hs-2", "type": "reply", "occurred_at": _ago(days=1), "contact_id": priya.id}]}
    first = api.post("/api/v1/events", json=batch).get_json()
    again = api.post("/api/v1/events", json=batch)
    assert again.status_code == 201
    body = again.get_json()
    assert (body["stored"], body["duplicates"]) == (0, 2) and _count() == 2
    assert [r["event_id"] for r in body["results"]] == [r["event_id"] for r in first["results"]]
    assert {r["status"] for r in body["results"]} == {"duplicate"}
    repeated = api.post("/api/v1/events", json={"events": [batch["events"][0] | {"id": "hs-3"},
                                                           batch["events"][0] | {"id": "hs-3"}]}).get_json()
    assert [r["status"] for r in repeated["results"]] == ["stored", "duplicate"] and _count() == 3
    other_tool = caller(client, "marketer").post("/api/v1/events", json=batch).get_json()
    assert other_tool["stored"] == 2 and _count() == 5  # ids are the caller's own: another user's hs-1 is another event


def test_reported_events_count_in_scores_kpis_and_the_engaged_milestone(client):
    account, priya = _bank()
    api = caller(client, "marketer")
    ten_days_ago = _now() - timedelta(days=10)
    assert api.post("/api/v1/events", json={"events": [
        {"id": "1", "type": "meeting_booked", "occurred_at": ten_days_ago.isoformat(), "contact_id": priya.id},
        {"id": "2", "type": "event_attended", "occurred_at": _ago(days=2), "contact_id": priya.id}]}).status_code == 201
    assert engagement_scoring.account_scores([account.id], _now())[account.id] > 0
    assert engagement_scoring.contact_scores([priya.id], _now())[priya.id] > 0
    scope = kpis.parse_scope("30d", "", "", "", "", _now().date(), "UTC")
    board = kpis.dashboard(scope)
    assert board.kpis["engaged_accounts"].value == 1 and board.kpis["meetings_per_account"].value == 1
    reached = db.session.scalar(select(AccountMilestone.reached_at).where(AccountMilestone.account_id == account.id,
                                                                          AccountMilestone.kind == "engaged"))
    assert abs(reached - ten_days_ago) < timedelta(seconds=1)


def test_an_unknown_email_at_a_known_domain_counts_for_the_account(client):
    account, _priya = _bank()
    api = caller(client, "marketer")
    body = api.post("/api/v1/events", json={"events": [
        {"type": "form_fill", "occurred_at": _ago(minutes=5), "email": "new.person@harborview.example"}]}).get_json()
    event = db.session.get(EngagementEvent, body["results"][0]["event_id"])
    assert (event.account_id, event.contact_id) == (account.id, None)


def test_one_bad_event_refuses_the_batch_naming_each_problem_by_its_place(client):
    account, priya = _bank()
    other = Account(name="Acme", domain="acme.example")
    db.session.add(other)
    db.session.commit()
    api = caller(client, "marketer")
    body = assert_problem(api.post("/api/v1/events", json={"events": [
        {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": priya.id},
        {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": 4242},
        {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": priya.id, "account_id": other.id},
        {"type": "reply", "occurred_at": _ago(hours=1), "email": "who@nowhere.example"},
        {"type": "reply", "occurred_at": (_now() + timedelta(hours=1)).isoformat(), "account_id": account.id},
        {"type": "reply", "occurred_at": _ago(days=400), "account_id": account.id},
        {"type": "reply", "occurred_at": _ago(hours=1)},
        {"type": "reply", "occurred_at": _ago(hours=1), "account_id": account.id, "asset_id": 4242},
        {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": priya.id, "email": "other@harborview.example"},
    ]}), 422)
    assert {e["field"] for e in body["errors"]} == {
        "events.1.contact_id", "events.2.account_id", "events.3.email", "events.4.occurred_at",
        "events.5.occurred_at", "events.6", "events.7.asset_id", "events.8.email"}
    assert _count() == 0


def test_malformed_events_are_422_from_the_schema(client):
    _account, priya = _bank()
    api = caller(client, "marketer")

    def refused(event: dict, field: str):
        assert_problem(api.post("/api/v1/events", json={"events": [
            {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": priya.id} | event]}), 422, field)

    refused({"type": "page_view"}, "events.0.type")  # tracked by the app itself, never reported
    refused({"type": "email_open"}, "events.0.type")
    refused({"occurred_at": "2026-11-01T10:00:00"}, "events.0.occurred_at")  # no zone
    refused({"occurred_at": "0001-01-01T00:00:00+05:00"}, "events.0.occurred_at")
    refused({"id": "a\x00b"}, "events.0.id")
    refused({"id": "x" * 201}, "events.0.id")
    refused({"detail": {"nested": {"a": 1}}}, "events.0.detail")
    refused({"detail": {"_api": "mine"}}, "events.0.detail")
    refused({"detail": {f"k{n}": n for n in range(21)}}, "events.0.detail")
    refused({"value": 1e13}, "events.0.value")
    refused({"contact_id": 2**31}, "events.0.contact_id")
    assert_problem(api.post("/api/v1/events", json={"events": []}), 422, "events")
    valid = {"type": "reply", "occurred_at": _ago(hours=1), "contact_id": priya.id}
    assert_problem(api.post("/api/v1/events", json={"events": [valid] * 1001}), 422, "events")
    assert _count() == 0


def test_sales_reps_report_at_their_own_accounts_only(client):
    rep = make_user("sales")
    mine, _priya = _bank(owner=rep)
    theirs = Account(name="Acme", domain="acme.example")
    db.session.add(theirs)
    db.session.commit()
    api = caller(client, user=rep)
    ok = api.post("/api/v1/events", json={"events": [
        {"type": "meeting_booked", "occurred_at": _ago(hours=1), "account_id": mine.id}]})
    assert ok.status_code == 201
    assert_problem(api.post("/api/v1/events", json={"events": [
        {"type": "meeting_booked", "occurred_at": _ago(hours=1), "account_id": theirs.id}]}), 422, "events.0")
    read_only = caller(client, "marketer", scope="read")
    assert_problem(read_only.post("/api/v1/events", json={"events": [
        {"type": "reply", "occurred_at": _ago(hours=1), "account_id": mine.id}]}), 403)
    assert _count() == 1


def test_events_are_read_back_newest_first_with_the_reporters_id_and_detail(client):
    account, priya = _bank()
    asset = make_asset(make_user("marketer"), status="published")
    api = caller(client, "marketer")
    api.post("/api/v1/events", json={"events": [
        {"id": "a", "type": "asset_download", "occurred_at": _ago(days=3), "contact_id": priya.id,
         "asset_id": asset.id, "detail": {"campaign": "Q4"}},
        {"id": "b", "type": "reply", "occurred_at": _ago(days=1), "account_id": account.id}]})
    db.session.add(EngagementEvent(key="k" * 32, type="page_view", occurred_at=_now() - timedelta(days=2),
                                   account_id=account.id, channel="web", detail={"path": "/p/welcome"}))
    db.session.commit()
    reader = caller(client, "sales", scope="read")
    body = reader.get(f"/api/v1/events?account_id={account.id}").get_json()
    assert [e["type"] for e in body["items"]] == ["reply", "page_view", "asset_download"]
    download = body["items"][2]
    assert (download["external_id"], download["detail"], download["asset_id"]) == ("a", {"campaign": "Q4"}, asset.id)
    assert body["items"][1]["external_id"] is None and body["items"][1]["detail"] == {"path": "/p/welcome"}
    assert reader.get(f"/api/v1/events?contact_id={priya.id}").get_json()["total"] == 1
    assert reader.get("/api/v1/events?type=reply").get_json()["total"] == 1
    assert reader.get("/api/v1/events", query_string={"since": _ago(days=2, minutes=1)}).get_json()["total"] == 2
    assert_problem(reader.get("/api/v1/events?type=visit"), 422, "type")
    assert_problem(reader.get("/api/v1/events?since=yesterday"), 422, "since")
