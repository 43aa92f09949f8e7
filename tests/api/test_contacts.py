"""/api/v1/contacts: stakeholders listed, added, edited and unsubscribed, with consent and suppression."""
from datetime import timedelta

from abmcontent import contacts
from abmcontent.channels.email import suppress
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, Suppression
from tests.api.helpers import assert_problem, caller
from tests.conftest import NOW, make_contact, make_user


def _account(name="Harborview Bank", **values) -> Account:
    account = Account(name=name, domain=values.pop("domain", ""), industry="financials", **values)
    db.session.add(account)
    db.session.commit()
    return account


def _person(account, first_name, email, **values) -> Contact:
    values = {"created_at": NOW, "updated_at": NOW, **values}
    contact = Contact(account=account, first_name=first_name, email=email, **values)
    db.session.add(contact)
    db.session.commit()
    return contact


def test_list_filters_by_account_persona_text_and_pages(client):
    api = caller(client, "marketer", scope="read")
    bank, other = _account(), _account("Acme")
    _person(bank, "Priya", "priya@bank.example", persona="economic_buyer", title="CFO")
    _person(bank, "Tom", "tom@bank.example", persona="technical_evaluator", title="Head of Data")
    _person(bank, "Ann", "ann@bank.example", persona="economic_buyer", title="VP Finance")
    _person(other, "Bo", "bo@acme.example", persona="economic_buyer")
    body = api.get(f"/api/v1/contacts?account_id={bank.id}&persona=economic_buyer&per_page=1").get_json()
    assert [c["first_name"] for c in body["items"]] == ["Priya"] and (body["total"], body["pages"]) == (2, 2)
    assert [c["first_name"] for c in api.get(body["links"]["next"]).get_json()["items"]] == ["Ann"]
    assert [c["email"] for c in api.get("/api/v1/contacts?q=head%20DATA").get_json()["items"]] == ["tom@bank.example"]
    assert api.get("/api/v1/contacts?email=BO@acme.example").get_json()["total"] == 1
    assert api.get("/api/v1/contacts?q=%25").get_json()["total"] == 0  # LIKE wildcards are literal


def test_updated_since_returns_only_what_changed_for_incremental_syncs(client):
    api = caller(client, "sales", scope="read")
    bank = _account()
    _person(bank, "Old", "old@bank.example", updated_at=NOW - timedelta(days=3))
    _person(bank, "New", "new@bank.example", updated_at=NOW)
    since = (NOW - timedelta(days=1)).isoformat()
    body = api.get("/api/v1/contacts", query_string={"updated_since": since}).get_json()
    assert [c["first_name"] for c in body["items"]] == ["New"]
    assert_problem(api.get("/api/v1/contacts?updated_since=2026-11-01T00:00:00"), 422, "updated_since")  # no zone
    for extreme in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        assert api.get("/api/v1/contacts", query_string={"updated_since": extreme}).status_code == 200


def test_bad_filters_and_nul_bytes_are_422_naming_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/contacts?account_id=99999999999"), 422, "account_id")
    assert_problem(api.get("/api/v1/contacts?q=a%00b"), 422, "q")
    assert_problem(api.get("/api/v1/contacts?per_page=201"), 422, "per_page")


def test_the_owner_adds_a_stakeholder_with_consent_shown_read_only(client):
    owner = make_user("sales")
    bank = _account(owner_id=owner.id)
    api = caller(client, user=owner)
    response = api.post("/api/v1/contacts", json={
        "account_id": bank.id, "first_name": "Tom", "last_name": "Becker", "email": "Tom@Bank.example",
        "persona": "technical_evaluator", "seniority": "director", "timezone": "America/New_York",
        "email_consent": True, "consent_source": "Data Summit 2026 booth"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["email"], body["account_id"], body["full_name"]) == ("tom@bank.example", bank.id, "Tom Becker")
    assert body["email_consent"] is True and body["consents"][0]["source"] == "Data Summit 2026 booth"
    assert "unsubscribe" in body["consents"][0]["wording"]
    assert body["unsubscribed_at"] is None and body["suppression"] is None
    assert api.get(f"/api/v1/contacts/{body['id']}").get_json() == body


def test_adding_a_stakeholder_with_bad_details_names_each_field_and_saves_nothing(client):
    bank = _account()
    api = caller(client, "campaign")
    body = assert_problem(api.post("/api/v1/contacts", json={
        "account_id": bank.id, "first_name": "", "email": "bob@", "timezone": "Mars/Olympus",
        "email_consent": True}), 422)
    assert {e["field"] for e in body["errors"]} == {"first_name", "email", "timezone", "consent_source"}
    assert_problem(api.post("/api/v1/contacts", json={"account_id": bank.id, "first_name": "A",
                                                      "email": "a@bank.example", "seniority": "emperor"}),
                   422, "seniority")
    assert_problem(api.post("/api/v1/contacts", json={"account_id": bank.id, "first_name": "A\x00",
                                                      "email": "a@bank.example"}), 422, "first_name")
    assert db.session.query(Contact).count() == 0


def test_adding_to_an_unknown_account_is_404_and_marketers_cannot_add(client):
    assert_problem(caller(client, "campaign").post("/api/v1/contacts", json={
        "account_id": 424242, "first_name": "A", "email": "a@x.example"}), 404)
    bank = _account()
    for role in ("marketer", "sales"):  # a sales rep who does not own the account
        assert_problem(caller(client, role).post("/api/v1/contacts", json={
            "account_id": bank.id, "first_name": "A", "email": "a@x.example"}), 403)


def test_patch_changes_only_what_is_sent_and_checks_it_like_the_ui(client):
    contact = make_contact(timezone="Europe/Berlin")
    api = caller(client, "campaign")
    response = api.patch(f"/api/v1/contacts/{contact.id}", json={"title": "Chief Financial Officer",
                                                                  "persona": "champion"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["title"], body["persona"], body["timezone"], body["email"]) == (
        "Chief Financial Officer", "champion", "Europe/Berlin", "priya@harborview.example")
    _person(contact.account, "Ann", "ann@harborview.example")
    assert_problem(api.patch(f"/api/v1/contacts/{contact.id}", json={"email": "ANN@harborview.example"}),
                   422, "email")
    assert_problem(api.patch(f"/api/v1/contacts/{contact.id}", json={"title": "CFO\r\nBcc: x@y.example"}),
                   422, "title")
    assert_problem(api.patch(f"/api/v1/contacts/{contact.id}", json={"email_consent": True}), 422, "email_consent")
    assert db.session.get(Contact, contact.id).title == "Chief Financial Officer"


def test_patch_keeps_an_odd_imported_value_that_was_not_touched(client):
    contact = make_contact(seniority="intern")  # as an old CRM import left it
    body = caller(client, "campaign").patch(f"/api/v1/contacts/{contact.id}", json={"title": "CTO"}).get_json()
    assert (body["title"], body["seniority"]) == ("CTO", "intern")


def test_only_the_owner_or_campaign_managers_edit_a_stakeholder(client):
    contact = make_contact()
    for role in ("marketer", "sales"):
        assert_problem(caller(client, role).patch(f"/api/v1/contacts/{contact.id}", json={"title": "X"}), 403)
    assert db.session.get(Contact, contact.id).title == "CFO"


def test_unsubscribe_withdraws_consent_and_suppresses_the_address(client):
    campaign = make_user("campaign")
    bank = _account()
    contact = contacts.add_stakeholder(bank.id, contacts.StakeholderInput(
        first_name="Tom", email="tom@bank.example", email_consent=True, consent_source="webinar"), campaign, NOW)
    api = caller(client, "marketer")
    response = api.post(f"/api/v1/contacts/{contact.id}/unsubscribe")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["unsubscribed_at"] and body["email_consent"] is False and body["consents"][0]["withdrawn_at"]
    assert body["suppression"]["reason"] == "unsubscribed"
    assert api.user.email in db.session.get(Suppression, "tom@bank.example").detail


def test_a_bounced_address_shows_its_suppression(client):
    contact = make_contact()
    suppress(contact.email, "bounced", "550 no such user", NOW)
    db.session.commit()
    body = caller(client, "sales", scope="read").get(f"/api/v1/contacts/{contact.id}").get_json()
    assert body["suppression"]["reason"] == "bounced" and body["unsubscribed_at"] is None
    listed = caller(client, "sales", scope="read").get("/api/v1/contacts").get_json()["items"]
    assert listed[0]["suppression"]["reason"] == "bounced"


def test_unknown_contacts_are_404_and_a_read_token_cannot_write(client):
    contact = make_contact()
    reader = caller(client, "admin", scope="read")
    assert_problem(reader.get("/api/v1/contacts/424242"), 404)
    assert_problem(reader.get("/api/v1/contacts/99999999999999"), 404)
    assert_problem(caller(client, "campaign").post("/api/v1/contacts/424242/unsubscribe"), 404)
    assert_problem(caller(client, "campaign").patch("/api/v1/contacts/424242", json={"title": "X"}), 404)
    assert_problem(reader.post(f"/api/v1/contacts/{contact.id}/unsubscribe"), 403)
    assert_problem(reader.patch(f"/api/v1/contacts/{contact.id}", json={"title": "X"}), 403)
    assert db.session.get(Contact, contact.id).unsubscribed_at is None
