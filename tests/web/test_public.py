"""The pages prospects see: identification on the wire, cookies and DNT, hostile input, tokens,
X-Forwarded-For, click tracking, the gated form and events (SECURITY.md)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from abmcontent import identification, landing, tracking
from abmcontent.extensions import db
from abmcontent.models import Account, Consent, Contact, EngagementEvent
from tests.conftest import NOW, make_asset, make_landing_page, make_user
from tests.test_accounts import make_account

VISIT = re.compile(r'(data-visit="|[?&]v=|name="v" value=")[A-Za-z0-9_.\-]+')


def _setup(holdout=0, **account):
    user = make_user("marketer")
    owner = make_user("sales", email="sam@abmcontent.test", name="Sam Seller", phone="+1 617 555 0100")
    page = make_landing_page(user, holdout_percent=holdout)
    acct = make_account(name=account.pop("name", "Harborview Bank"), owner_id=owner.id,
                        journey_stage=account.pop("journey_stage", "consideration"), **account)
    contact = Contact(account=acct, first_name="Priya", last_name="Raman", email="priya@harborview.example",
                      persona="technical_evaluator")
    db.session.add(contact)
    db.session.commit()
    _link, token = identification.create_personal_url(acct.id, contact.id, user, NOW, page.id)
    return page, acct, contact, token


def _events(app, type_=None):
    tracking.flush(app)
    query = select(EngagementEvent).order_by(EngagementEvent.id)
    if type_:
        query = query.where(EngagementEvent.type == type_)
    return list(db.session.scalars(query))


def _without_visit_ids(html: str) -> str:
    return VISIT.sub(r"\1VISIT", html)


def test_a_personalized_link_greets_the_company_and_the_person_and_shows_the_owner(app, client):
    page, acct, contact, token = _setup()
    response = client.get(f"/p/{page.slug}?t={token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Data infrastructure for Harborview Bank" in html and "Hi Priya" in html
    assert "Sam Seller" in html and "mailto:sam@abmcontent.test" in html
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "private" in response.headers["Cache-Control"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("abm_visitor=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    [view] = _events(app, "page_view")
    assert (view.account_id, view.contact_id, view.variant, view.landing_page_id) == \
        (acct.id, contact.id, "personalized", page.id)
    assert view.detail["rule"] == "token"


def test_the_cookie_identifies_the_visitor_on_the_next_visit(app, client):
    page, acct, contact, token = _setup()
    client.get(f"/p/{page.slug}?t={token}")
    html = client.get(f"/p/{page.slug}").get_data(as_text=True)
    assert "Harborview Bank" in html
    assert [e.detail["rule"] for e in _events(app, "page_view")] == ["token", "cookie"]


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_do_not_track_gets_a_company_level_page_and_no_cookie(app, client, header):
    page, acct, contact, token = _setup()
    response = client.get(f"/p/{page.slug}?t={token}", headers=header)
    html = response.get_data(as_text=True)
    assert "Harborview Bank" in html and "Hi there" in html and "Priya" not in html
    assert "Set-Cookie" not in response.headers
    [view] = _events(app, "page_view")
    assert (view.account_id, view.contact_id) == (acct.id, None)
    # and a cookie from before is not read either
    client.set_cookie("abm_visitor", identification.cookie_value(app.config["SECRET_KEY"], acct.id, contact.id))
    assert "Harborview" not in client.get(f"/p/{page.slug}", headers=header).get_data(as_text=True)


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:10],
                                    lambda t: t + "x", lambda t: "%00%0d%0a", lambda t: "x" * 5000])
def test_a_changed_or_unknown_token_gets_the_same_page_as_no_token(app, client, mangle):
    page, acct, contact, token = _setup()
    plain = client.get(f"/p/{page.slug}")
    other = client.get(f"/p/{page.slug}?t={mangle(token)}")
    assert other.status_code == plain.status_code == 200
    assert _without_visit_ids(other.get_data(as_text=True)) == _without_visit_ids(plain.get_data(as_text=True))
    assert "Set-Cookie" not in other.headers
    assert dict(other.headers)["Referrer-Policy"] == dict(plain.headers)["Referrer-Policy"]


def test_a_revoked_link_opens_the_generic_page(app, client):
    page, acct, contact, token = _setup()
    link = identification.links_for(acct.id)[0]
    identification.revoke(link.id, acct.id, None, NOW)
    assert "Harborview" not in client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)


def test_repeated_token_misses_from_one_address_are_rate_limited(app, client):
    page, acct, contact, token = _setup()
    app.config["TOKEN_MISS_LIMIT"] = 5
    for n in range(5):
        assert client.get(f"/p/{page.slug}?t=guess{n}").status_code == 200
    limited = client.get(f"/p/{page.slug}?t=guess-more")
    assert limited.status_code == 429 and "Too many attempts" in limited.get_data(as_text=True)
    assert client.get(f"/p/{page.slug}?t={token}").status_code == 429  # even a good one, for a while
    assert client.get(f"/p/{page.slug}").status_code == 200             # the page itself stays open
    other = client.get(f"/p/{page.slug}?t={token}", environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 200 and "Harborview" in other.get_data(as_text=True)


def test_a_draft_or_unknown_page_is_not_found_in_words(app, client):
    make_landing_page(slug="draft-page", status="draft")
    for path in ("/p/draft-page", "/p/nothing-here", "/p/" + "x" * 300):
        response = client.get(path)
        assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


# --- IP ranges and X-Forwarded-For -------------------------------------------------------------

def _ranged_account():
    make_landing_page(holdout_percent=0)
    return make_account(name="Ranged Corp", domains=["ranged.example"], ip_ranges=["198.51.100.0/24"])


def test_the_visitors_address_in_an_accounts_range_identifies_the_account(app, client):
    _ranged_account()
    html = client.get("/p/welcome", environ_base={"REMOTE_ADDR": "198.51.100.7"}).get_data(as_text=True)
    assert "Ranged Corp" in html


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, client):
    _ranged_account()
    html = client.get("/p/welcome", headers={"X-Forwarded-For": "198.51.100.7"},
                      environ_base={"REMOTE_ADDR": "203.0.113.1"}).get_data(as_text=True)
    assert "Ranged Corp" not in html


def test_behind_one_trusted_proxy_only_the_last_hop_counts(tmp_path, sqlite_template):
    import shutil

    from abmcontent import create_app
    from tests.conftest import _config

    db_file = tmp_path / "proxy.db"
    shutil.copy(sqlite_template, db_file)
    proxied = create_app(_config(tmp_path, f"sqlite:///{db_file}", TRUSTED_PROXIES=1))
    with proxied.app_context():
        _ranged_account()
        client = proxied.test_client()
        near = {"REMOTE_ADDR": "10.0.0.2"}  # the proxy
        real = client.get("/p/welcome", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=near)
        assert "Ranged Corp" in real.get_data(as_text=True)
        spoofed = client.get("/p/welcome", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.50"},
                             environ_base=near)
        assert "Ranged Corp" not in spoofed.get_data(as_text=True)
        db.session.remove()


# --- hostile input -----------------------------------------------------------------------------

def test_hostile_utm_values_user_agent_and_referer_are_stored_as_text_and_never_echoed_raw(app, client):
    page, acct, contact, token = _setup()
    evil = '"><script>alert(1)</script>'
    response = client.get(f"/p/{page.slug}", query_string={"utm_campaign": evil, "utm_source": "x" * 500,
                                                            "utm_industry": evil},
                          headers={"User-Agent": evil * 50, "Referer": evil})
    assert response.status_code == 200 and "<script>alert" not in response.get_data(as_text=True)
    [view] = _events(app, "page_view")
    assert view.detail["utm"]["utm_campaign"] == evil and len(view.detail["utm"]["utm_source"]) == 100
    assert len(view.user_agent) == 300


@pytest.mark.parametrize("path", ["/p/welcome/a/%00", "/p/welcome/go/99999/default", "/p/welcome/go/1/%2e%2e",
                                  "/p/welcome?t=%ff%fe", "/p/%ff", "/p/welcome/a/x/files/99999999999999999999"])
def test_garbage_paths_get_an_answer_in_words_never_a_stack_trace(app, client, path):
    make_landing_page()
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert "Traceback" not in response.get_data(as_text=True)


# --- clicks, the gated form, the beacon --------------------------------------------------------

def _visit_param(html: str) -> str:
    return re.search(r'data-visit="([^"]+)"', html).group(1)


def test_a_call_to_action_click_is_recorded_and_goes_to_the_stored_address_only(app, client):
    page, acct, contact, token = _setup(journey_stage="decision")
    user = make_user("marketer")
    cta = next(s for s in page.sections if s.kind == "cta")
    landing.update_section(page.id, cta.id, {"heading": "Next", "default_label": "Talk to us",
                                             "default_url": "https://c.example/contact",
                                             "label_decision": "Book a demo",
                                             "url_decision": "https://c.example/demo"}, user, NOW)
    html = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    link = re.search(r'href="(/p/welcome/go/[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Book a demo" in html and "/decision?" in link
    response = client.get(link + "&next=https://evil.example&url=https://evil.example")
    assert response.status_code == 303 and response.headers["Location"] == "https://c.example/demo"
    [click] = _events(app, "cta_click")
    assert (click.account_id, click.contact_id, click.variant) == (acct.id, contact.id, "personalized")
    assert client.get(f"/p/welcome/go/{cta.id}/not-a-stage").status_code == 404


def _gated_page(user):
    asset = make_asset(user, status="published", gated=True, title="The governance blueprint",
                       body="Chapter one for {{ account.name | \"you\" }}.")
    page = make_landing_page(user, holdout_percent=0)
    section = landing.add_section(page.id, "gated_form", user, NOW)
    landing.update_section(page.id, section.id, {
        "heading": "Get the blueprint", "asset_id": str(asset.id), "button": "Send it",
        "consent_text": "I agree that Cobalt Data may email me."}, user, NOW)
    return page, section, asset


def test_the_gated_form_creates_the_contact_records_consent_and_unlocks_the_asset(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    acct = make_account(name="Harborview Bank", domains=["harborview.example"])
    locked = client.get(f"/p/{page.slug}/a/{asset.slug}").get_data(as_text=True)
    assert "Chapter one" not in locked and "Work email" in locked
    v = _visit_param(client.get(f"/p/{page.slug}").get_data(as_text=True))
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={
        "v": v, "email": "New.Person@Harborview.example", "first_name": "Nia", "last_name": "Okafor",
        "title": "Head of Data", "persona": "champion", "consent": "yes"})
    assert response.status_code == 303 and "k=" in response.headers["Location"]
    contact = db.session.scalar(select(Contact).where(Contact.email == "new.person@harborview.example"))
    assert contact.account_id == acct.id and contact.persona == "champion"
    [consent] = contact.consents
    assert consent.wording == "I agree that Cobalt Data may email me." and consent.source == "landing page /p/welcome"
    opened = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Chapter one for Harborview Bank" in opened
    [fill] = _events(app, "form_fill")
    assert (fill.account_id, fill.contact_id, fill.asset_id) == (acct.id, contact.id, asset.id)
    assert [e.asset_id for e in _events(app, "asset_open")] == [asset.id]
    assert "abm_visitor=" in response.headers.get("Set-Cookie", "")


def test_the_gated_form_without_consent_keeps_no_consent_and_bad_input_is_explained(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "not-an-email",
                                                                      "first_name": "A\r\nBcc: x@y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter your work email address" in html and "Keep this on one line" in html
    assert 'value="not-an-email"' in html  # nothing typed is lost
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "kim@newco.example"})
    assert response.status_code == 303
    contact = db.session.scalar(select(Contact).where(Contact.email == "kim@newco.example"))
    assert contact.consents == [] and contact.account.name == "Newco" and contact.account.target_status is None


def test_a_free_mail_address_gets_the_asset_but_creates_no_account(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    before = db.session.scalar(select(db.func.count(Account.id)))
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "someone@gmail.com",
                                                                      "consent": "yes"})
    assert response.status_code == 303 and "k=" in response.headers["Location"]
    assert db.session.scalar(select(db.func.count(Account.id))) == before
    assert db.session.scalar(select(db.func.count(Consent.id))) == 0


def test_an_unsubscribed_contact_filling_the_form_stays_unsubscribed(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    acct = make_account(domains=["harborview.example"])
    gone = Contact(account=acct, email="gone@harborview.example", unsubscribed_at=NOW, first_name="Gone")
    db.session.add(gone)
    db.session.commit()
    client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "gone@harborview.example", "consent": "yes"})
    db.session.refresh(gone)
    assert gone.unsubscribed_at is not None and gone.first_name == "Gone"


def test_a_cross_site_form_post_is_refused(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "a@b.example"},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert db.session.scalar(select(Contact).where(Contact.email == "a@b.example")) is None


def test_the_honeypot_keeps_bots_out_of_the_contacts(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    response = client.post(f"/p/{page.slug}/form/{section.id}", data={"email": "bot@spam.example",
                                                                      "website": "http://spam.example"})
    assert response.status_code == 303
    assert db.session.scalar(select(Contact).where(Contact.email == "bot@spam.example")) is None


def test_a_forged_unlock_key_does_not_open_a_gated_asset(app, client):
    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    html = client.get(f"/p/{page.slug}/a/{asset.slug}?k=forged.key").get_data(as_text=True)
    assert "Chapter one" not in html


def test_the_beacon_records_time_on_page_for_the_visit_and_ignores_forgeries(app, client):
    page, acct, contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    assert client.post("/p/beacon", data={"v": v, "s": "12.5"}).status_code == 204
    assert client.post("/p/beacon", data={"v": v + "x", "s": "99"}).status_code == 204
    assert client.post("/p/beacon", data={"v": v, "s": "lots"}).status_code == 204
    assert client.post("/p/beacon", data={"v": v, "s": "1e9"}).status_code == 204
    values = [(e.value, e.account_id, e.contact_id) for e in _events(app, "time_on_page")]
    assert values == [(12.5, acct.id, contact.id), (14400.0, acct.id, contact.id)]


def test_reading_an_asset_from_the_page_is_attributed_to_the_visit(app, client):
    page, acct, contact, token = _setup()
    user = make_user("marketer")
    asset = make_asset(user, status="published", stages=["consideration"], personas=["technical_evaluator"],
                       title="Migration guide", body="Steps for {{ account.name }}.")
    html = client.get(f"/p/{page.slug}?t={token}", headers={"DNT": "1"}).get_data(as_text=True)
    href = re.search(r'href="(/p/welcome/a/%s[^"]*)"' % asset.slug, html).group(1).replace("&amp;", "&")
    fresh = page.__class__  # a new client: no cookie (DNT set none anyway)
    opened = app.test_client().get(href).get_data(as_text=True)
    assert "Steps for Harborview Bank." in opened and fresh
    [event] = _events(app, "asset_open")
    assert (event.account_id, event.contact_id, event.asset_id) == (acct.id, None, asset.id)


def test_tracking_keeps_answering_and_loses_nothing_while_the_events_table_is_unavailable(app, client):
    page, acct, contact, token = _setup()
    html = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    v = _visit_param(html)
    click = re.search(r'href="(/p/welcome/go/[^"]+)"', html).group(1).replace("&amp;", "&")
    tracking.flush(app)
    db.session.execute(db.text("ALTER TABLE engagement_events RENAME TO engagement_events_away"))
    db.session.commit()
    try:
        for _ in range(5):
            assert client.post("/p/beacon", data={"v": v, "s": "3"}).status_code == 204
        assert client.get(click).status_code == 303
        tracking.flush(app, timeout=2)
        assert tracking.pending(app)["spool_files"] >= 1
    finally:
        db.session.execute(db.text("ALTER TABLE engagement_events_away RENAME TO engagement_events"))
        db.session.commit()
    assert len(_events(app, "time_on_page")) == 5 and len(_events(app, "cta_click")) == 1
    assert tracking.pending(app)["spool_files"] == 0


# --- the page cache ----------------------------------------------------------------------------

def test_a_visitors_next_view_is_served_from_the_cache_until_their_account_changes(app, client):
    import time

    from abmcontent.web.public import _cache

    app.config["PUBLIC_CACHE_SECONDS"] = 0.3
    page, acct, contact, token = _setup()
    with app.test_request_context():
        cache = _cache()
    first = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    second = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    assert (cache.misses, cache.hits) == (1, 1)
    assert _without_visit_ids(first) == _without_visit_ids(second) and _visit_param(first) != _visit_param(second)
    acct.name = "Harborview Bank & Trust"
    acct.updated_at = NOW.replace(year=2027)
    db.session.commit()
    time.sleep(0.35)
    assert "Harborview Bank &amp; Trust" in client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    assert len(_events(app, "page_view")) == 3  # every view is recorded, cached or not


def test_an_asset_read_drops_it_from_the_next_cached_view_within_the_cache_seconds(app, client):
    import time

    app.config["PUBLIC_CACHE_SECONDS"] = 0.3
    page, acct, contact, token = _setup()
    user = make_user("marketer")
    asset = make_asset(user, status="published", stages=["consideration"], personas=["technical_evaluator"],
                       title="Migration guide")
    html = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    assert "Migration guide" in html
    href = re.search(r'href="(/p/welcome/a/%s[^"]*)"' % asset.slug, html).group(1).replace("&amp;", "&")
    client.get(href)
    tracking.flush(app)
    time.sleep(0.35)
    assert "Migration guide" not in client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)


def test_page_edits_reach_cached_pages_within_the_configured_seconds(app, client):
    import time

    app.config["PUBLIC_CACHE_SECONDS"] = 0.3
    user = make_user("marketer")
    page = make_landing_page(user)
    assert "growing teams" in client.get("/p/welcome").get_data(as_text=True)
    hero = page.sections[0]
    landing.update_section(page.id, hero.id, {"headline": "Spring edition", "text": ""}, user, NOW.replace(year=2027))
    time.sleep(0.35)
    assert "Spring edition" in client.get("/p/welcome").get_data(as_text=True)


def test_a_download_from_an_unlocked_asset_is_recorded_and_served_as_an_attachment(app, client):
    import io

    from abmcontent import attachments, gating

    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    stored = attachments.attach(asset.id, "blueprint.pdf", io.BytesIO(b"%PDF-1.4 blueprint"), user, NOW,
                                app.config["UPLOAD_FOLDER"], (".pdf",), 1_000_000)
    url = f"/p/{page.slug}/a/{asset.slug}/files/{stored.id}"
    locked = client.get(url)
    assert locked.status_code == 302 and f"/a/{asset.slug}" in locked.headers["Location"]
    key = gating.unlock_key(app.config["SECRET_KEY"], asset.id)
    response = client.get(url, query_string={"k": key})
    assert response.status_code == 200 and response.data == b"%PDF-1.4 blueprint"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [event] = _events(app, "asset_download")
    assert event.asset_id == asset.id and event.detail["file"] == "blueprint.pdf"


def test_an_unlocked_asset_page_lists_each_of_its_files_once(app, client):
    import io

    from abmcontent import attachments, gating

    user = make_user("marketer")
    page, section, asset = _gated_page(user)
    for name in ("blueprint.pdf", "checklist.pdf"):
        attachments.attach(asset.id, name, io.BytesIO(b"%PDF-1.4 x"), user, NOW, app.config["UPLOAD_FOLDER"],
                           (".pdf",), 1_000_000)
    key = gating.unlock_key(app.config["SECRET_KEY"], asset.id)
    html = client.get(f"/p/{page.slug}/a/{asset.slug}", query_string={"k": key}).get_data(as_text=True)
    assert html.count(">blueprint.pdf</a>") == 1 and html.count(">checklist.pdf</a>") == 1
    assert html.index("blueprint.pdf") < html.index("checklist.pdf")


def test_with_a_page_cache_a_revoked_link_stops_working_within_its_seconds(app, client):
    import time

    app.config["PUBLIC_CACHE_SECONDS"] = 0.3
    page, acct, contact, token = _setup()
    assert "Harborview" in client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    identification.revoke(identification.links_for(acct.id)[0].id, acct.id, None, NOW)
    time.sleep(0.35)
    assert "Harborview" not in client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    # and the cookie that link set no longer identifies the visitor either
    assert "Harborview" not in client.get(f"/p/{page.slug}").get_data(as_text=True)
