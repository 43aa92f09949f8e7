"""A prospect opens a personalized link in headless Chromium: their company, their owner, content
for their stage and role; they read an asset and what they did is recorded."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from abmcontent import identification, tracking
from abmcontent.extensions import db
from abmcontent.models import Asset, Contact, EngagementEvent, LandingPage
from tests.browser.test_library_browser import _serious_violations, _sign_in
from tests.conftest import NOW


def _link_for_priya(app) -> tuple[str, int, int]:
    with app.app_context():
        page = db.session.scalar(select(LandingPage).where(LandingPage.slug == "data-platform"))
        page.holdout_percent = 0  # this test is about the personalized page, not the control group
        db.session.commit()
        priya = db.session.scalar(select(Contact).where(Contact.email == "priya.raman@harborviewbank.example"))
        _link, token = identification.create_personal_url(priya.account_id, priya.id, None, NOW, page.id)
        return f"/p/data-platform?t={token}", priya.account_id, priya.id


def _tags(app, slug: str) -> tuple[set, set, bool]:
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.slug == slug))
        return set(asset.stages), set(asset.personas), asset.gated


def test_a_prospect_opens_a_personalized_link_reads_an_asset_and_is_recorded(page, live_server):
    path, account_id, contact_id = _link_for_priya(live_server.app)
    page.goto(live_server + path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Data infrastructure for Harborview Bank")
    expect(page.locator(".owner-card")).to_contain_text("Sam Seller")
    expect(page.locator(".owner-card")).to_contain_text("sales@abmcontent.demo")
    cards = page.locator(".picks .card h3 a")
    expect(cards.first).to_be_visible()
    slugs = [re.search(r"/a/([^?]+)", href).group(1) for href in
             cards.evaluate_all("links => links.map(a => a.getAttribute('href'))")]
    tags = [_tags(live_server.app, slug) for slug in slugs]
    stages, personas, _gated = tags[0]
    # Harborview is in consideration; Priya is its economic buyer
    assert stages & {"consideration", "awareness", "decision"} and (not personas or "economic_buyer" in personas)
    assert _serious_violations(page) == []

    readable = cards.nth(next(i for i, (_s, _p, gated) in enumerate(tags) if not gated))
    title = readable.inner_text()
    readable.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".asset .body")).not_to_be_empty()
    assert _serious_violations(page) == []
    page.wait_for_timeout(1200)
    page.go_back()  # pagehide: the beacon reports the time spent reading
    expect(page.get_by_role("heading", level=1)).to_have_text("Data infrastructure for Harborview Bank")

    app = live_server.app
    with app.app_context():
        def recorded():
            tracking.flush(app)
            return {(e.type, e.account_id, e.contact_id) for e in db.session.scalars(select(EngagementEvent))}
        for _ in range(50):
            events = recorded()
            if ("time_on_page", account_id, contact_id) in events:
                break
            page.wait_for_timeout(100)
        assert {("page_view", account_id, contact_id), ("asset_open", account_id, contact_id),
                ("time_on_page", account_id, contact_id)} <= events
        seconds = db.session.scalars(select(EngagementEvent.value).where(EngagementEvent.type == "time_on_page"))
        assert sum(seconds) >= 1.0


def test_a_marketer_previews_the_page_as_an_account_with_the_trace(page, live_server):
    _sign_in(page, live_server)
    page.get_by_role("link", name="Landing pages", exact=True).click()
    page.get_by_role("link", name="Data platform for target accounts").click()
    page.get_by_role("link", name="Preview as an account").click()
    page.fill("#account", "harborviewbank.example")
    page.locator("#account").press("Enter")
    expect(page.locator(".landing-frame h1")).to_have_text("Data infrastructure for Harborview Bank")
    priya = page.locator("#contact option", has_text="Priya Raman").get_attribute("value")
    page.select_option("#contact", priya)
    expect(page.locator(".trace-steps")).to_contain_text("personalized link (preview)")
    expect(page.locator(".landing-frame")).to_contain_text("Hi Priya")
    expect(page.locator(".why-list")).to_contain_text("stage: Consideration")
    assert _serious_violations(page) == []


def test_a_visitor_fills_the_gated_form_in_a_real_browser_and_gets_the_asset(page, live_server):
    """Browsers send "Origin: null" with a form posted from a page whose Referrer-Policy is
    no-referrer; the cross-site check refused every real visitor until the policy became
    same-origin. Only a real browser shows that."""
    page.goto(f"{live_server}/p/data-platform")
    form = page.locator("form.gate-form").first
    expect(form).to_be_visible()
    form.locator("#gate-email").fill("nia.okafor@harborviewbank.example")
    form.locator("#gate-first_name").fill("Nia")
    form.locator("#gate-consent").check()
    form.locator("button[type=submit]").click()
    expect(page.locator(".asset .body")).not_to_be_empty()
    with live_server.app.app_context():
        nia = db.session.scalar(select(Contact).where(Contact.email == "nia.okafor@harborviewbank.example"))
        assert nia is not None and nia.account.name == "Harborview Bank" and len(nia.consents) == 1
