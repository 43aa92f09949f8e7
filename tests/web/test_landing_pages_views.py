"""The landing-page builder, the preview with its trace, personalized links on the account page,
and `flask purl create`."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from abmcontent import identification, landing
from abmcontent.extensions import db
from abmcontent.models import Contact, LandingPage, PersonalUrl
from tests.conftest import NOW, login, make_asset, make_landing_page, make_user
from tests.test_accounts import make_account

HX = {"HX-Request": "true"}


@pytest.fixture
def marketer(client):
    user = make_user("marketer")
    login(client, user)
    return user


def test_the_list_says_what_to_do_when_there_are_no_pages(client, marketer):
    html = client.get("/landing").get_data(as_text=True)
    assert "No landing pages yet" in html and "Create page" in html


def test_a_marketer_creates_a_page_and_lands_in_the_builder(client, marketer):
    response = client.post("/landing", data={"title": "Data platform", "slug": "data-platform",
                                             "language": "en", "holdout_percent": "10"})
    page = db.session.scalar(select(LandingPage))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/landing/{page.id}")
    html = client.get(f"/landing/{page.id}").get_data(as_text=True)
    assert "Hero" in html and "Recommended assets" in html and "No identified visitors yet" in html


def test_a_bad_new_page_is_explained_and_keeps_what_was_typed(client, marketer):
    response = client.post("/landing", data={"title": "Spring campaign", "slug": "Not A Slug!",
                                             "language": "en", "holdout_percent": "10"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "lower-case letters" in html and 'value="Spring campaign"' in html


def test_sections_are_edited_in_place_and_errors_come_back_as_a_fragment(client, marketer):
    page = make_landing_page(marketer)
    hero = page.sections[0]
    bad = client.post(f"/landing/{page.id}/sections/{hero.id}", headers=HX,
                      data={"headline": "Hi {{ account.secret }}", "text": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in html and "Unknown merge field" in html
    assert 'value="Hi {{ account.secret }}"' in html  # the author's text is kept
    good = client.post(f"/landing/{page.id}/sections/{hero.id}", headers=HX,
                       data={"headline": "Built for {{ account.name }}", "text": "Hello"})
    assert good.status_code == 200 and "Section saved" in good.get_data(as_text=True)
    # the form targets its own section, the answer is the whole list: it must replace the list
    assert (good.headers["HX-Retarget"], good.headers["HX-Reswap"]) == ("#sections", "innerHTML")
    assert "HX-Retarget" not in bad.headers  # an error replaces just the section being edited
    assert hero.settings["headline"] == "Built for {{ account.name }}"


def test_sections_are_added_moved_and_removed(client, marketer):
    page = make_landing_page(marketer)
    added = client.post(f"/landing/{page.id}/sections", headers=HX, data={"kind": "gated_form"})
    assert added.status_code == 200 and "Gated-asset form" in added.get_data(as_text=True)
    last = page.sections[-1]
    client.post(f"/landing/{page.id}/sections/{last.id}/move", headers=HX, data={"direction": "up"})
    db.session.refresh(page)
    assert [s.kind for s in page.sections][-2:] == ["gated_form", "cta"]
    client.post(f"/landing/{page.id}/sections/{last.id}/delete", headers=HX)
    db.session.refresh(page)
    assert "gated_form" not in [s.kind for s in page.sections]
    assert client.post(f"/landing/{page.id}/sections", headers=HX, data={"kind": "popup"}).status_code == 422


def test_publishing_an_unfinished_page_says_what_is_missing(client, marketer):
    page = make_landing_page(marketer, status="draft")
    landing.add_section(page.id, "gated_form", marketer, NOW)
    response = client.post(f"/landing/{page.id}/status", data={"status": "published"}, follow_redirects=True)
    assert "Not published" in response.get_data(as_text=True) and page.status == "draft"


def test_a_sales_rep_can_preview_but_not_edit(client):
    page = make_landing_page()
    login(client, make_user("sales"))
    assert client.get(f"/landing/{page.id}").status_code == 200
    assert client.get(f"/landing/{page.id}/preview").status_code == 200
    assert client.post(f"/landing/{page.id}/sections", data={"kind": "hero"}).status_code == 403
    assert client.post(f"/landing/{page.id}/status", data={"status": "draft"}).status_code == 403


def test_the_preview_shows_the_page_as_an_account_and_why(client, marketer):
    owner = make_user("sales", name="Sam Seller")
    account = make_account(name="Harborview Bank", owner_id=owner.id, ip_ranges=["198.51.100.0/24"])
    contact = Contact(account=account, first_name="Priya", email="p@harborview.example", persona="champion")
    db.session.add(contact)
    db.session.commit()
    make_asset(marketer, status="published", title="Champion's guide", personas=["champion"])
    page = make_landing_page(marketer)
    html = client.get(f"/landing/{page.id}/preview", query_string={
        "account": "harborview.example", "contact": contact.id, "variant": "personalized"}).get_data(as_text=True)
    assert "Data infrastructure for Harborview Bank" in html and "Sam Seller" in html
    assert "personalized link (preview)" in html and "preview forced the Personalized group" in html
    assert "Champion&#39;s guide" in html and "persona: Champion" in html
    by_ip = client.get(f"/landing/{page.id}/preview", headers=HX, query_string={
        "mode": "visitor", "ip": "198.51.100.20", "variant": "control"}).get_data(as_text=True)
    assert "<html" not in by_ip and "is in 198.51.100.0/24" in by_ip and "growing teams" in by_ip
    nobody = client.get(f"/landing/{page.id}/preview", query_string={"account": "no such co"}).get_data(as_text=True)
    assert "No single account matches" in nobody


def test_the_preview_records_nothing_and_creates_no_link(app, client, marketer):
    from abmcontent import tracking

    account = make_account()
    page = make_landing_page(marketer)
    client.get(f"/landing/{page.id}/preview", query_string={"account": account.name})
    tracking.flush(app)
    from abmcontent.models import EngagementEvent

    assert db.session.scalar(select(db.func.count(EngagementEvent.id))) == 0
    assert db.session.scalar(select(db.func.count(PersonalUrl.id))) == 0


def test_the_preview_speaks_korean_to_a_korean_user(client):
    user = make_user("marketer")
    login(client, user)
    client.post("/language", data={"locale": "ko", "next": "/landing"})
    page = make_landing_page(user)
    html = client.get(f"/landing/{page.id}/preview").get_data(as_text=True)
    assert "미리보기" in html


# --- personalized links on the account page ----------------------------------------------------

def _campaign_manager_with_an_account(client):
    """Signed in as a campaign manager; a published page; Harborview Bank with Priya Raman."""
    user = make_user("campaign")
    login(client, user)
    page = make_landing_page()
    account = make_account(user)
    contact = Contact(account=account, first_name="Priya", last_name="Raman", email="p@harborview.example")
    db.session.add(contact)
    db.session.commit()
    return user, page, account, contact


def test_a_link_is_created_from_the_account_page_shown_once_and_revocable(client):
    user, page, account, contact = _campaign_manager_with_an_account(client)
    response = client.post(f"/accounts/{account.id}/links", data={"contact_id": contact.id, "page_id": page.id})
    html = response.get_data(as_text=True)
    url = re.search(r'id="new-link" value="([^"]+)"', html).group(1)
    assert url.startswith("http://localhost/p/welcome?t=") and "shown only once" in html
    token = url.split("t=", 1)[1]
    link = db.session.scalar(select(PersonalUrl))
    assert link.token_hash == identification.hash_token(token) and link.contact_id == contact.id
    listed = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert token not in listed and f"t={token[:6]}" in listed and "Priya Raman" in listed
    client.post(f"/accounts/{account.id}/links/{link.id}/revoke")
    assert link.revoked_at is not None
    assert "Harborview" not in client.get(f"/p/welcome?t={token}").get_data(as_text=True)


def test_the_account_page_asks_for_a_published_page_before_links(client):
    user = make_user("campaign")
    login(client, user)
    account = make_account(user)
    html = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Publish a landing page first" in html


def test_purl_create_prints_a_working_link(app, runner):
    page = make_landing_page()
    account = make_account(name="Harborview Bank", domains=["harborview.example"])
    contact = Contact(account=account, first_name="Priya", email="priya@harborview.example")
    db.session.add(contact)
    db.session.commit()
    result = runner.invoke(args=["purl", "create", "--account", "harborview.example",
                                 "--contact", "PRIYA@harborview.example"])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert re.fullmatch(r"http://[^/]+/p/welcome\?t=[A-Za-z0-9_-]{32}", url)
    found = identification.resolve_token(url.split("t=")[1])
    assert (found.account_id, found.contact_id, found.landing_page_id) == (account.id, contact.id, page.id)
    by_name = runner.invoke(args=["purl", "create", "--account", "Harborview Bank"])
    assert by_name.exit_code == 0 and "/p/welcome?t=" in by_name.output


@pytest.mark.parametrize("args,message", [
    (["--account", "nobody.example"], "no single account matches"),
    (["--account", "harborview.example", "--contact", "x@y.example"], "is not a stakeholder"),
    (["--account", "harborview.example", "--page", "missing"], "no published landing page"),
])
def test_purl_create_explains_what_is_wrong(app, runner, args, message):
    make_landing_page()
    make_account(domains=["harborview.example"])
    result = runner.invoke(args=["purl", "create", *args])
    assert result.exit_code != 0 and message in result.output


def test_purl_create_without_a_published_page_says_to_publish_one(app, runner):
    make_account(domains=["harborview.example"])
    result = runner.invoke(args=["purl", "create", "--account", "harborview.example"])
    assert result.exit_code != 0 and "Publish a landing page first" in result.output


def test_what_prospects_did_shows_on_the_account_timeline(app, client):
    from abmcontent import tracking

    user, page, account, contact = _campaign_manager_with_an_account(client)
    assert "Send a personalized link" in client.get(f"/accounts/{account.id}").get_data(as_text=True)
    _link, token = identification.create_personal_url(account.id, contact.id, user, NOW, page.id)
    app.test_client().get(f"/p/welcome?t={token}")
    tracking.flush(app)
    html = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Page view" in html and "Priya Raman" in html and "Data platform" in html
    assert "not a person" not in html
    tracking.record("email_open", app=app, account_id=account.id, contact_id=contact.id, channel="email",
                    machine="apple_privacy_proxy")
    tracking.flush(app)
    html = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Email opened" in html and "automatic: a mail proxy or link scanner, not a person" in html
