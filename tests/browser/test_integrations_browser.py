"""Integrations in headless Chromium: a campaign manager makes an API token, copies it from the
page, and it answers the JSON API; the API reference is readable and accessible."""
import json
import re
import urllib.request

from playwright.sync_api import expect

from tests.browser.test_library_browser import _serious_violations, _sign_in


def test_a_token_made_in_the_ui_calls_the_api_and_can_be_revoked(page, live_server):
    _sign_in(page, live_server, "campaign@abmcontent.demo")
    page.locator("nav").get_by_role("link", name="Integrations").click()
    expect(page.locator(".empty-state")).to_contain_text("no API tokens yet")
    page.fill("#t-name", "CRM sync")
    page.check("input[name=scope][value=read]")
    page.click("text=Create token")
    secret = page.locator("#token-secret").input_value()
    assert re.fullmatch(r"abm_[A-Za-z0-9_-]{40,}", secret)
    assert _serious_violations(page) == []

    request = urllib.request.Request(f"{live_server}/api/v1/accounts?tier=1&per_page=5",
                                     headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = json.load(answer)
    assert body["total"] >= 1 and body["items"][0]["tier"] == 1

    page.goto(f"{live_server}/integrations/tokens")
    expect(page.locator("#token-secret")).to_have_count(0)  # shown once only
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("Revoked the token CRM sync")
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a revoked token still answered")
    except urllib.error.HTTPError as error:
        assert error.code == 401 and error.headers["Content-Type"] == "application/problem+json"


def test_the_api_reference_shows_every_resource(page, live_server):
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.locator("h1")).to_have_text("API reference")
    for tag in ("Accounts", "Contacts", "Assets", "Plans", "Touchpoints", "KPIs"):
        expect(page.locator(".api-toc")).to_contain_text(tag)
    expect(page.locator("#problem-validation")).to_be_visible()
    assert _serious_violations(page) == []
