"""Events in headless Chromium: a prospect registers on the public page, then answers from their
personal link; the campaign manager sees them on the event page."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from abmcontent import demo
from abmcontent.extensions import db
from abmcontent.models import Contact, Event, EventRegistration
from tests.browser.test_library_browser import _serious_violations, _sign_in


def _demo_event(app) -> tuple[str, int]:
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.title == demo.DEMO_EVENT))
        return event.slug, event.id


def test_a_prospect_registers_on_the_event_page_and_changes_their_mind(page, live_server):
    slug, event_id = _demo_event(live_server.app)
    page.goto(f"{live_server}/e/{slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(demo.DEMO_EVENT)
    expect(page.locator(".seats")).to_contain_text("40 seats left")
    assert _serious_violations(page) == []

    page.fill("#event-email", "ana@gmail.com")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#event-email-error")).to_be_visible()  # free mail: a work address, please
    expect(page.locator("#event-first_name")).to_have_value("")
    page.fill("#event-email", "ana.silva@harborviewbank.example")
    page.fill("#event-first_name", "Ana")
    page.fill("#event-last_name", "Silva")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="You are registered")).to_be_visible()
    expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    assert _serious_violations(page) == []

    page.get_by_role("button", name="Cancel my registration").click()
    expect(page.get_by_role("heading", name="Thanks for letting us know")).to_be_visible()

    with live_server.app.app_context():
        ana = db.session.scalar(select(Contact).where(Contact.email == "ana.silva@harborviewbank.example"))
        registration = db.session.scalar(select(EventRegistration).where(EventRegistration.contact_id == ana.id))
        assert ana.account.name == "Harborview Bank" and registration.status == "declined"

    _sign_in(page, live_server, email="campaign@abmcontent.demo")
    page.goto(f"{live_server}/events/{event_id}")
    expect(page.locator(f"#registration-{registration.id}")).to_contain_text("Ana Silva")
    expect(page.locator(f"#registration-{registration.id}")).to_contain_text("Declined")
    assert _serious_violations(page) == []


def test_the_event_form_and_the_print_queue_pass_an_accessibility_scan(page, live_server):
    _sign_in(page, live_server, email="campaign@abmcontent.demo")
    for path in ("/events/new", "/direct-mail", "/plans/new"):
        page.goto(f"{live_server}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert _serious_violations(page) == [], path
