"""/api/v1/accounts: the Accounts page's filters, creation and edits, qualification, target decisions."""
from abmcontent.extensions import db
from abmcontent.models import Account
from tests.api.helpers import assert_problem, caller
from tests.conftest import make_asset, make_user


def _account(name="Harborview Bank", **values) -> Account:
    account = Account(name=name, domain=values.pop("domain", ""), industry=values.pop("industry", "financials"),
                      **values)
    db.session.add(account)
    db.session.commit()
    return account


def test_list_filters_pages_and_links(client):
    api = caller(client, "sales", scope="read")
    for n in range(5):
        _account(f"Bank {n}", tier=1 if n % 2 == 0 else 2, icp_score=float(n))
    response = api.get("/api/v1/accounts?tier=1&per_page=2&sort=name&direction=asc")
    assert response.status_code == 200
    body = response.get_json()
    assert [a["name"] for a in body["items"]] == ["Bank 0", "Bank 2"]
    assert (body["total"], body["pages"], body["page"], body["per_page"]) == (3, 2, 1, 2)
    assert body["links"]["prev"] is None and "page=2" in body["links"]["next"]
    second = api.get(body["links"]["next"]).get_json()
    assert [a["name"] for a in second["items"]] == ["Bank 4"] and second["links"]["next"] is None


def test_a_page_past_the_end_is_empty_not_the_last_page_again(client):
    api = caller(client, "sales", scope="read")
    _account()
    body = api.get("/api/v1/accounts?page=9").get_json()
    assert body["items"] == [] and body["total"] == 1 and body["page"] == 9


def test_bad_filters_are_422_naming_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/accounts?sort=password"), 422, "sort")
    assert_problem(api.get("/api/v1/accounts?per_page=0"), 422, "per_page")


def test_a_campaign_manager_creates_an_account_and_its_icp_tier_follows(client):
    api = caller(client, "campaign")
    response = api.post("/api/v1/accounts", json={
        "name": "Acme Robotics", "domains": ["acme-robotics.example"], "industry": "industrials",
        "employees": 1200, "country": "KR"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["domains"] == ["acme-robotics.example"] and body["country"] == "KR" and body["id"]
    assert db.session.get(Account, body["id"]).source == "manual"


def test_creating_an_account_with_bad_fields_says_which_and_saves_nothing(client):
    api = caller(client, "campaign")
    body = assert_problem(api.post("/api/v1/accounts", json={"name": "", "tier": 5, "revenue": -1}), 422)
    assert {e["field"] for e in body["errors"]} == {"name", "tier", "revenue"}
    assert_problem(api.post("/api/v1/accounts", json={"name": "X", "ip_ranges": ["not a range"]}), 422, "ip_ranges")
    assert db.session.query(Account).count() == 0


def test_a_domain_owned_by_another_account_is_refused(client):
    api = caller(client, "campaign")
    assert api.post("/api/v1/accounts", json={"name": "One", "domains": ["one.example"]}).status_code == 201
    assert_problem(api.post("/api/v1/accounts", json={"name": "Two", "domains": ["one.example"]}), 422, "domains")


def test_patch_changes_only_what_is_sent(client):
    api = caller(client, "campaign")
    created = api.post("/api/v1/accounts", json={"name": "Acme", "domains": ["acme.example"], "city": "Seoul",
                                                  "tier": 2}).get_json()
    response = api.patch(f"/api/v1/accounts/{created['id']}", json={"employees": 50})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["employees"], body["city"], body["tier"], body["domains"]) == (50, "Seoul", 2, ["acme.example"])


def test_sales_and_marketers_cannot_change_firmographics(client):
    account = _account()
    for role in ("sales", "marketer"):
        api = caller(client, role)
        assert_problem(api.patch(f"/api/v1/accounts/{account.id}", json={"city": "X"}), 403)
        assert_problem(api.post("/api/v1/accounts", json={"name": "Y"}), 403)


def test_a_read_token_cannot_write_even_for_an_admin(client):
    api = caller(client, "admin", scope="read")
    body = assert_problem(api.post("/api/v1/accounts", json={"name": "Y"}), 403)
    assert "read" in body["detail"]


def test_an_unknown_account_is_404_problem(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/accounts/424242"), 404)
    assert_problem(api.get("/api/v1/accounts/99999999999999999999"), 404)


def test_the_owner_qualifies_their_account_and_other_reps_cannot(client):
    owner = make_user("sales")
    account = _account(owner_id=owner.id)
    api = caller(client, user=owner)
    response = api.put(f"/api/v1/accounts/{account.id}/qualification", json={
        "bant": {"budget": {"status": "confirmed", "note": "FY27"}}, "goals": "Faster close"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["bant"]["budget"] == {"status": "confirmed", "note": "FY27"} and body["goals"] == "Faster close"
    assert_problem(caller(client, "sales").put(f"/api/v1/accounts/{account.id}/qualification",
                                               json={"goals": "x"}), 403)


def test_rejecting_a_target_needs_a_reason(client):
    account = _account()
    api = caller(client, "campaign")
    assert_problem(api.post(f"/api/v1/accounts/{account.id}/target-decisions", json={"status": "rejected"}),
                   422, "comment")
    ok = api.post(f"/api/v1/accounts/{account.id}/target-decisions", json={"status": "agreed"})
    assert ok.status_code == 200 and ok.get_json()["target_status"] == "agreed"


def test_recommendations_give_published_content_per_persona_with_reasons(client):
    marketer = make_user("marketer")
    asset = make_asset(marketer, status="published", industries=["financials"], stages=["awareness"],
                       personas=["economic_buyer"])
    account = _account(journey_stage="awareness")
    body = caller(client, "sales", scope="read").get(f"/api/v1/accounts/{account.id}/recommendations").get_json()
    buyer = next(group for group in body if group["persona"] == "economic_buyer")
    assert buyer["assets"][0]["asset_id"] == asset.id and buyer["assets"][0]["reasons"]
