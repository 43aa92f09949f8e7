"""The content library as a marketer uses it, in headless Chromium (Debian's, never downloaded)."""
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from abmcontent import demo


def _sign_in(page, base, email="marketer@abmcontent.demo"):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard$"))


def _serious_violations(page):
    results = Axe().run(page)
    return [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.usefixtures("live_server")
def test_marketer_filters_the_library_and_the_url_keeps_the_filters(page, live_server):
    _sign_in(page, live_server)
    page.click("nav >> text=Library")
    total = page.locator(".result-count").inner_text()
    page.select_option("#f-stage", "decision")
    expect(page).to_have_url(re.compile(r"stage=decision"))
    expect(page.locator(".result-count")).not_to_have_text(total)
    for tags in page.locator(".asset-card .tags").all():
        expect(tags).to_contain_text("Decision")
    page.fill("#q", "procurement")
    expect(page).to_have_url(re.compile(r"q=procurement"))
    filtered = page.locator(".asset-card").count()
    assert filtered >= 1
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"q=procurement"))
    page.reload()  # a shared link: the whole page comes back with the same filters applied
    expect(page.locator("#f-stage")).to_have_value("decision")
    assert _serious_violations(page) == []


def test_marketer_edits_an_asset_and_sees_the_preview_change(page, live_server):
    _sign_in(page, live_server)
    page.goto(f"{live_server}/library?q=month-end&status=published")
    page.locator(".asset-card a.asset-title").first.click()
    page.get_by_role("link", name="Edit").click()
    preview = page.locator("#preview")
    expect(preview.locator(".preview-title")).to_be_visible()
    priya = page.locator("#sample option", has_text="Priya Raman").get_attribute("value")
    page.select_option("#sample", priya)
    page.fill("#title", "A plan for {{ account.name }}")
    expect(preview.locator(".preview-title")).to_have_text("A plan for Harborview Bank")
    page.fill("#body", "Hi {{ contact.first_name }}, **welcome**. <script>window.pwned=1</script>")
    expect(preview).to_contain_text("Hi Priya, welcome.")
    expect(preview.locator("strong")).to_have_text("welcome")
    assert page.evaluate("window.pwned") is None
    page.fill("#body", "Dear {{ account.ceo }}")
    expect(preview.locator(".form-error")).to_contain_text("Unknown merge field")
    assert _serious_violations(page) == []
    page.get_by_role("button", name="Save").click()  # refused: the errors appear inline, text kept
    expect(page.locator("#body-errors")).to_contain_text("Unknown merge field")
    expect(page.locator("#body")).to_have_value("Dear {{ account.ceo }}")
    page.fill("#body", "Dear {{ contact.first_name | \"there\" }}, the plan is ready.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Saved")
    expect(page.locator("h1")).to_have_text("A plan for {{ account.name }}")
    page.get_by_role("link", name="History").click()
    expect(page.locator("table.data tbody tr")).to_have_count(2)


def test_tags_are_edited_in_place_without_a_reload(page, live_server):
    _sign_in(page, live_server)
    page.goto(f"{live_server}/library?status=draft")
    page.locator(".asset-card a.asset-title").first.click()
    page.evaluate("window.stayedOnPage = true")
    page.select_option("#add-industry", "energy")
    page.locator(".tag-add:has(#add-industry) button").click()
    industry_tags = page.locator("#tags li.tag-industry")
    expect(industry_tags.filter(has_text="Energy")).to_have_count(1)
    page.get_by_role("button", name="Remove tag Energy").click()
    expect(industry_tags.filter(has_text="Energy")).to_have_count(0)
    assert page.evaluate("window.stayedOnPage") is True


def test_the_ui_speaks_korean(page, live_server):
    _sign_in(page, live_server)
    page.get_by_role("button", name="한국어").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.goto(f"{live_server}/library/coverage")
    expect(page.locator("h1")).to_have_text("커버리지 매트릭스")
    assert _serious_violations(page) == []


def test_sales_sees_the_library_without_edit_controls(page, live_server):
    _sign_in(page, live_server, email="sales@abmcontent.demo")
    page.goto(f"{live_server}/library")
    expect(page.get_by_role("link", name="New asset")).to_have_count(0)
    page.locator(".asset-card a.asset-title").first.click()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
