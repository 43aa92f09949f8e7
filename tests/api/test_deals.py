"""/api/v1/deals: the pipeline list, creating and changing deals (closing, reopening), and CRM upserts."""
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Deal
from tests.api.helpers import assert_problem, caller
from tests.conftest import make_user


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _account(name="Harborview Bank", owner=None, crm_id="") -> Account:
    domain = f"{name.lower().replace(' ', '')}.example"
    account = Account(name=name, domain=domain, industry="financials", owner_id=owner.id if owner else None,
                      crm_id=crm_id)
    account.domains.append(AccountDomain(domain=domain))
    db.session.add(account)
    db.session.commit()
    return account


def _deal(account, name="Platform", stage="discovery", **values) -> Deal:
    deal = Deal(account_id=account.id, name=name, stage=stage, created_on=values.pop("created_on", date(2026, 9, 1)),
                **values)
    db.session.add(deal)
    db.session.commit()
    return deal


def test_list_filters_by_account_stage_and_pages(client):
    bank, acme = _account(), _account("Acme")
    _deal(bank, "Bank open")
    _deal(bank, "Bank won", stage="closed_won", amount=50_000, closed_on=date(2026, 10, 1))
    _deal(acme, "Acme open", stage="proposal")
    api = caller(client, "marketer", scope="read")
    body = api.get(f"/api/v1/deals?account_id={bank.id}&stage=open").get_json()
    assert [(d["name"], d["account_name"]) for d in body["items"]] == [("Bank open", "Harborview Bank")]
    assert api.get("/api/v1/deals?stage=closed").get_json()["items"][0]["amount"] == 50_000
    assert api.get("/api/v1/deals?stage=proposal").get_json()["total"] == 1
    assert api.get("/api/v1/deals?closed_from=2026-10-01&closed_to=2026-10-31").get_json()["total"] == 1
    paged = api.get("/api/v1/deals?per_page=2&sort=amount").get_json()
    assert (len(paged["items"]), paged["pages"]) == (2, 2)
    assert api.get("/api/v1/deals?per_page=2&page=5").get_json()["items"] == []


def test_bad_filters_are_422_naming_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/deals?stage=won"), 422, "stage")
    assert_problem(api.get("/api/v1/deals?sort=name"), 422, "sort")
    assert_problem(api.get("/api/v1/deals?closed_from=0001-01-01"), 422, "closed_from")
    assert_problem(api.get("/api/v1/deals?q=a%00"), 422, "q")


def test_the_account_owner_adds_a_deal_created_today_unless_told(client):
    rep = make_user("sales")
    bank = _account(owner=rep)
    api = caller(client, user=rep)
    response = api.post("/api/v1/deals", json={"account_id": bank.id, "name": "Data platform", "amount": 120_000,
                                               "owner_id": rep.id})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["stage"], body["created_on"], body["source"], body["owner_id"]) == (
        "qualification", _today().isoformat(), "api", rep.id)
    assert api.get(f"/api/v1/deals/{body['id']}").get_json() == body
    by_domain = api.post("/api/v1/deals", json={"account": "harborviewbank.example", "name": "Second",
                                                "created_on": "2026-08-01", "stage": "discovery"})
    assert by_domain.status_code == 201 and by_domain.get_json()["created_on"] == "2026-08-01"


def test_creating_a_deal_with_bad_fields_names_each_and_saves_nothing(client):
    bank = _account()
    api = caller(client, "campaign")
    body = assert_problem(api.post("/api/v1/deals", json={
        "account_id": bank.id, "name": "Lost one", "stage": "closed_lost",
        "created_on": (_today() + timedelta(days=5)).isoformat(), "amount": -1}), 422)
    assert {e["field"] for e in body["errors"]} == {"amount"}  # the schema answers first
    body = assert_problem(api.post("/api/v1/deals", json={
        "account_id": bank.id, "name": "Lost one", "stage": "closed_lost",
        "created_on": (_today() + timedelta(days=5)).isoformat()}), 422)
    assert {e["field"] for e in body["errors"]} >= {"created_on", "close_reason"}
    assert_problem(api.post("/api/v1/deals", json={"name": "Nowhere"}), 422, "account_id")
    assert_problem(api.post("/api/v1/deals", json={"account_id": 4242, "name": "X"}), 422, "account_id")
    assert_problem(api.post("/api/v1/deals", json={"account": "No such company", "name": "X"}), 422, "account")
    assert_problem(api.post("/api/v1/deals", json={"account_id": bank.id}), 422, "name")
    assert_problem(api.post("/api/v1/deals", json={"account_id": bank.id, "name": "X", "owner_id": 4242}), 422,
                   "owner_id")
    assert db.session.scalar(select(func.count(Deal.id))) == 0


def test_patch_moves_the_stage_and_closing_lost_needs_a_reason_and_dates_today(client):
    rep = make_user("sales")
    deal = _deal(_account(owner=rep))
    api = caller(client, user=rep)
    path = f"/api/v1/deals/{deal.id}"
    assert api.patch(path, json={"stage": "proposal", "proposal_sent_on": "2026-10-02"}).get_json()["stage"] == "proposal"
    assert_problem(api.patch(path, json={"stage": "closed_lost"}), 422, "close_reason")
    lost = api.patch(path, json={"stage": "closed_lost", "close_reason": "Chose a competitor"}).get_json()
    assert (lost["closed_on"], lost["close_reason"], lost["proposal_sent_on"]) == (
        _today().isoformat(), "Chose a competitor", "2026-10-02")
    reopened = api.patch(path, json={"stage": "negotiation"}).get_json()
    assert (reopened["closed_on"], reopened["close_reason"]) == (None, "")
    assert_problem(api.patch(path, json={"stage": "closed_won"}), 422, "amount")
    won = api.patch(path, json={"stage": "closed_won", "amount": 90_000, "closed_on": "2026-11-01"}).get_json()
    assert (won["stage"], won["closed_on"], won["amount"]) == ("closed_won", "2026-11-01", 90_000)
    churned = api.patch(path, json={"churned_on": _today().isoformat()}).get_json()
    assert churned["churned_on"] == _today().isoformat()


def test_only_owners_and_campaign_managers_change_deals(client):
    rep, other_rep = make_user("sales"), make_user("sales")
    bank = _account(owner=rep)
    deal = _deal(bank)
    assert_problem(caller(client, user=other_rep).patch(f"/api/v1/deals/{deal.id}", json={"meetings": 3}), 403)
    assert_problem(caller(client, user=other_rep).post("/api/v1/deals", json={"account_id": bank.id, "name": "X"}),
                   403)
    assert_problem(caller(client, "marketer").patch(f"/api/v1/deals/{deal.id}", json={"meetings": 3}), 403)
    assert_problem(caller(client, "campaign", scope="read").patch(f"/api/v1/deals/{deal.id}",
                                                                  json={"meetings": 3}), 403)
    assert caller(client, "campaign").patch(f"/api/v1/deals/{deal.id}", json={"meetings": 3}).get_json()["meetings"] == 3


def test_only_campaign_managers_delete_deals(client):
    rep = make_user("sales")
    deal = _deal(_account(owner=rep))
    assert_problem(caller(client, user=rep).delete(f"/api/v1/deals/{deal.id}"), 403)
    response = caller(client, "campaign").delete(f"/api/v1/deals/{deal.id}")
    assert response.status_code == 204 and response.data == b""
    assert_problem(caller(client, "campaign").get(f"/api/v1/deals/{deal.id}"), 404)


def test_an_unknown_deal_is_404(client):
    api = caller(client, "campaign")
    assert_problem(api.get("/api/v1/deals/4242"), 404)
    assert_problem(api.patch("/api/v1/deals/4242", json={"meetings": 1}), 404)
    assert_problem(api.delete("/api/v1/deals/99999999999"), 404)


def test_a_crm_upserts_by_its_own_id_creating_then_updating_only_what_it_sends(client):
    bank = _account(crm_id="0015g00000ABC")
    api = caller(client, "campaign")
    created = api.put("/api/v1/deals/by-crm-id/006-OPP-1", json={
        "account_crm_id": "0015g00000ABC", "name": "Renewal", "stage": "discovery", "amount": 40_000})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert (body["crm_id"], body["account_id"], body["created_on"]) == ("006-OPP-1", bank.id, _today().isoformat())
    updated = api.put("/api/v1/deals/by-crm-id/006-OPP-1", json={"stage": "proposal"})
    assert updated.status_code == 200
    assert (updated.get_json()["id"], updated.get_json()["stage"], updated.get_json()["amount"]) == (
        body["id"], "proposal", 40_000)
    assert db.session.scalar(select(func.count(Deal.id))) == 1


def test_a_crm_upsert_needs_an_account_to_create_and_never_moves_a_deal(client):
    bank, acme = _account(), _account("Acme")
    api = caller(client, "campaign")
    assert_problem(api.put("/api/v1/deals/by-crm-id/OPP-2", json={"name": "X"}), 422, "account_id")
    assert_problem(api.put("/api/v1/deals/by-crm-id/OPP-2", json={"account_crm_id": "nope", "name": "X"}), 422,
                   "account_crm_id")
    assert api.put("/api/v1/deals/by-crm-id/OPP-2", json={"account_id": bank.id, "name": "X"}).status_code == 201
    assert_problem(api.put("/api/v1/deals/by-crm-id/OPP-2", json={"account_id": acme.id}), 422, "account_id")
    assert_problem(api.put("/api/v1/deals/by-crm-id/" + "x" * 65, json={"account_id": bank.id, "name": "X"}), 422,
                   "crm_id")
    assert_problem(caller(client, "marketer").put("/api/v1/deals/by-crm-id/OPP-3",
                                                  json={"account_id": bank.id, "name": "X"}), 403)


def test_the_deal_page_says_a_deal_came_through_the_api(client):
    from tests.conftest import login

    account = _account()
    api = caller(client, "campaign")
    created = api.post("/api/v1/deals", json={"account_id": account.id, "name": "From the CRM", "stage": "discovery",
                                              "created_on": "2026-10-01"})
    assert created.status_code == 201, created.get_data(as_text=True)
    login(client, api.user)
    assert "through the API" in client.get(f"/deals/{created.get_json()['id']}").get_data(as_text=True)
