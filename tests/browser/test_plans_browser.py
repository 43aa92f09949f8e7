"""A campaign manager builds a plan in headless Chromium: steps added, edited in place and
reordered with htmx, without leaving the page."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from abmcontent.extensions import db
from abmcontent.models import Plan
from tests.browser.test_library_browser import _serious_violations, _sign_in


def test_a_campaign_manager_builds_a_plan_with_the_step_editor(page, live_server):
    _sign_in(page, live_server, email="campaign@abmcontent.demo")
    page.goto(f"{live_server}/plans/new")
    page.fill("#plan-name", "Tier 2 banks")
    page.click("button[type=submit].primary")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tier 2 banks")
    expect(page.locator("#steps")).to_contain_text("No steps yet")

    page.select_option("#new-channel", "event")  # only the fields the channel uses are shown
    expect(page.locator("#new-event_id")).to_be_visible()
    expect(page.locator("#new-mail_format")).to_be_hidden()
    expect(page.locator("#new-asset_id")).to_be_hidden()
    page.select_option("#new-channel", "email")
    expect(page.locator("#new-event_id")).to_be_hidden()
    expect(page.locator("#new-asset_id")).to_be_visible()
    page.fill("#new-subject", "An idea for {{ account.name }}")
    page.check("input[name=personas][value=champion]")
    page.click("#steps button:has-text('Add step')")
    expect(page.locator("#steps .flash")).to_have_text("Step added.")
    expect(page.locator(".step-item")).to_have_count(1)

    page.select_option("#new-channel", "sales_task")
    page.fill("#new-offset_days", "3")
    page.fill("#new-subject", "Call {{ contact.password }}")  # not a merge field: refused in place, kept as typed
    page.click("#steps button:has-text('Add step')")
    expect(page.locator("#steps .form-error")).to_be_visible()
    expect(page.locator("#new-subject")).to_have_value("Call {{ contact.password }}")
    expect(page.locator("#new-offset_days")).to_have_value("3")
    page.fill("#new-subject", "Call the champion")
    page.click("#steps button:has-text('Add step')")
    expect(page.locator(".step-item")).to_have_count(2)

    second = page.locator(".step-item").nth(1)
    second.get_by_role("button", name="Move step 2 up").click()
    expect(page.locator(".step-item").first).to_contain_text("Call the champion")

    page.locator(".step-item").nth(1).get_by_role("link", name="Edit step 2").click()
    field = page.locator(".step-item").nth(1).locator("input[name=subject]")
    expect(field).to_have_value("An idea for {{ account.name }}")
    field.fill("A better idea for {{ account.name }}")
    page.locator(".step-item").nth(1).get_by_role("button", name="Save step").click()
    expect(page.locator("#steps .flash")).to_have_text("Step saved.")
    expect(page.locator(".step-item").nth(1)).to_contain_text("A better idea for {{ account.name }}")
    assert _serious_violations(page) == []

    with live_server.app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Tier 2 banks"))
        assert [(s.channel, s.subject) for s in plan.steps] == [
            ("sales_task", "Call the champion"), ("email", "A better idea for {{ account.name }}")]
