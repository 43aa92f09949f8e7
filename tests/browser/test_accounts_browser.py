"""Accounts as a campaign manager uses them, in headless Chromium."""
import re

from playwright.sync_api import expect

from abmcontent import scheduler
from tests.browser.test_library_browser import _serious_violations, _sign_in


def test_campaign_manager_qualifies_an_account_in_place(page, live_server):
    _sign_in(page, live_server, email="campaign@abmcontent.demo")
    page.get_by_role("link", name="Accounts", exact=True).click()
    # the boosted navigation has swapped and settled (htmx binds the search box's trigger then)
    expect(page).to_have_url(re.compile(r"/accounts$"))
    expect(page.locator("table.accounts tbody tr").first).to_be_visible()
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping')")
    page.fill("#aq", "harborview")
    expect(page).to_have_url(re.compile(r"q=harborview"))
    expect(page.locator("table.accounts tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Harborview Bank").click()
    expect(page.locator("#score-title")).to_contain_text("ICP fit")
    expect(page.locator(".missing-roles")).to_contain_text("End user")
    page.evaluate("window.stayedOnPage = true")
    page.select_option("#bant-need-status", "confirmed")
    page.fill("#ctx-challenges", "Data migration before the Teradata renewal")
    page.get_by_role("button", name="Save qualification").click()
    expect(page.locator("#qualification .flash-success")).to_be_visible()
    assert page.evaluate("window.stayedOnPage") is True
    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))  # a late filter response must not take the URL back
    page.reload()
    expect(page.locator("#ctx-challenges")).to_have_value("Data migration before the Teradata renewal")
    assert _serious_violations(page) == []


def test_upload_is_imported_by_the_scheduler_with_progress(page, live_server, tmp_path):
    running = scheduler.start_background(live_server.app)
    try:
        csv = tmp_path / "hubspot.csv"
        csv.write_text("Company name,Company Domain Name,Industry,Country/Region\n"
                       "Zephyr Bank,zephyr.example,BANKING,United States\n"
                       "Orion Health,orion.example,Hospital & Health Care,United States\n")
        _sign_in(page, live_server, email="campaign@abmcontent.demo")
        page.goto(f"{live_server}/imports/new")
        page.set_input_files("#file", str(csv))
        page.get_by_role("button", name="Upload and check").click()
        expect(page.locator("#progress")).to_contain_text("Import finished", timeout=15_000)
        expect(page.locator("#progress dl.facts")).to_contain_text("2")
        assert _serious_violations(page) == []
        page.get_by_role("link", name="See the accounts").click()
        page.fill("#aq", "zephyr")
        expect(page.locator("table.accounts")).to_contain_text("Zephyr Bank")
    finally:
        running.shutdown(wait=False)
