"""/api/v1/landing-pages and /api/v1/accounts/{id}/personal-urls: pages, and links whose token shows once."""
from urllib.parse import parse_qs, urlparse

from abmcontent import identification
from abmcontent.extensions import db
from abmcontent.models import PersonalUrl
from tests.api.helpers import assert_problem, caller
from tests.conftest import NOW, make_contact, make_landing_page


def _token(url: str) -> str:
    return parse_qs(urlparse(url).query)["t"][0]


def test_list_shows_pages_published_first_with_their_public_address(client, app):
    app.config["BASE_URL"] = "https://go.cobalt.example"
    make_landing_page(slug="draft-page", status="draft", title="Draft")
    make_landing_page(slug="welcome", title="Welcome")
    body = caller(client, "sales", scope="read").get("/api/v1/landing-pages?per_page=1").get_json()
    assert body["total"] == 2 and [p["title"] for p in body["items"]] == ["Welcome"]
    assert body["items"][0]["url"] == "https://go.cobalt.example/p/welcome"
    assert body["items"][0]["status"] == "published" and "sections" not in body["items"][0]


def test_a_page_lists_its_sections_in_order_with_their_headings(client):
    page = make_landing_page()
    body = caller(client, "sales", scope="read").get(f"/api/v1/landing-pages/{page.id}").get_json()
    assert [s["kind"] for s in body["sections"]] == [s.kind for s in page.sections]
    assert [s["position"] for s in body["sections"]] == sorted(s["position"] for s in body["sections"])
    assert body["sections"][0]["heading"].startswith("Data infrastructure for")
    assert_problem(caller(client, "sales", scope="read").get("/api/v1/landing-pages/424242"), 404)


def test_a_personal_url_is_shown_once_and_identifies_the_stakeholder(client, app):
    app.config["BASE_URL"] = "https://go.cobalt.example"
    page = make_landing_page()
    contact = make_contact()
    api = caller(client, "sales")
    response = api.post(f"/api/v1/landing-pages/{page.id}/personal-urls",
                        json={"account_id": contact.account_id, "contact_id": contact.id})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["url"].startswith("https://go.cobalt.example/p/welcome?t=")
    token = _token(body["url"])
    link = identification.resolve_token(token)
    assert (link.account_id, link.contact_id, link.id) == (contact.account_id, contact.id, body["link"]["id"])
    assert body["link"]["hint"] == token[:6] and body["link"]["active"] is True
    assert db.session.get(PersonalUrl, link.id).token_hash != token  # only the hash is kept
    listed = api.get(f"/api/v1/accounts/{contact.account_id}/personal-urls").get_json()
    assert [item["id"] for item in listed["items"]] == [link.id]
    assert token not in str(listed) and "url" not in listed["items"][0]


def test_a_link_for_the_whole_account_has_no_contact(client):
    page = make_landing_page()
    contact = make_contact()
    body = caller(client, "marketer").post(f"/api/v1/landing-pages/{page.id}/personal-urls",
                                           json={"account_id": contact.account_id}).get_json()
    assert body["link"]["contact_id"] is None and body["link"]["landing_page_id"] == page.id


def test_links_need_a_published_page_a_real_account_and_a_stakeholder_there(client):
    draft = make_landing_page(slug="draft-page", status="draft")
    page = make_landing_page()
    contact = make_contact()
    other = make_contact("Acme", email="bo@acme.example", domain="acme.example")
    api = caller(client, "campaign")
    url = f"/api/v1/landing-pages/{page.id}/personal-urls"
    assert_problem(api.post(f"/api/v1/landing-pages/{draft.id}/personal-urls",
                            json={"account_id": contact.account_id}), 422, "landing_page_id")
    assert_problem(api.post("/api/v1/landing-pages/424242/personal-urls", json={"account_id": contact.account_id}),
                   404)
    assert_problem(api.post(url, json={"account_id": 424242}), 404)
    assert_problem(api.post(url, json={"account_id": contact.account_id, "contact_id": other.id}), 422, "contact_id")
    assert_problem(api.post(url, json={"account_id": 0}), 422, "account_id")
    assert_problem(api.post(url, json={}), 422, "account_id")
    assert db.session.query(PersonalUrl).count() == 0


def test_revoking_a_link_makes_it_identify_no_one(client):
    page = make_landing_page()
    contact = make_contact()
    link, token = identification.create_personal_url(contact.account_id, None, None, NOW, page.id)
    api = caller(client, "sales")
    response = api.delete(f"/api/v1/accounts/{contact.account_id}/personal-urls/{link.id}")
    assert response.status_code == 204 and response.get_data() == b""
    assert identification.resolve_token(token) is None
    assert api.delete(f"/api/v1/accounts/{contact.account_id}/personal-urls/{link.id}").status_code == 204
    listed = api.get(f"/api/v1/accounts/{contact.account_id}/personal-urls").get_json()["items"]
    assert listed[0]["active"] is False and listed[0]["revoked_at"]


def test_a_link_is_revoked_only_through_its_own_account(client):
    page = make_landing_page()
    contact = make_contact()
    other = make_contact("Acme", email="bo@acme.example", domain="acme.example")
    link, token = identification.create_personal_url(contact.account_id, None, None, NOW, page.id)
    api = caller(client, "campaign")
    assert_problem(api.delete(f"/api/v1/accounts/{other.account_id}/personal-urls/{link.id}"), 404)
    assert_problem(api.get("/api/v1/accounts/424242/personal-urls"), 404)
    assert identification.resolve_token(token) is not None


def test_a_read_token_cannot_create_or_revoke_links(client):
    page = make_landing_page()
    contact = make_contact()
    link, token = identification.create_personal_url(contact.account_id, None, None, NOW, page.id)
    api = caller(client, "admin", scope="read")
    assert_problem(api.post(f"/api/v1/landing-pages/{page.id}/personal-urls",
                            json={"account_id": contact.account_id}), 403)
    assert_problem(api.delete(f"/api/v1/accounts/{contact.account_id}/personal-urls/{link.id}"), 403)
    assert identification.resolve_token(token) is not None and db.session.query(PersonalUrl).count() == 1


def test_without_a_token_nothing_is_listed(client):
    make_landing_page()
    assert_problem(client.get("/api/v1/landing-pages"), 401)
