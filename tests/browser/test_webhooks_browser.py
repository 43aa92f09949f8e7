"""Webhooks in headless Chromium: an admin adds an endpoint, copies the secret shown once, sends a
test event to a real receiver on loopback that verifies it, and filters the delivery log."""
import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from abmcontent import webhooks
from tests.browser.test_library_browser import _serious_violations
from tests.conftest import PASSWORD, make_user
from tests.webhook_receiver import allow_loopback, running


@pytest.fixture
def receiver():
    with running() as server:
        yield server


def test_an_admin_adds_an_endpoint_and_sends_it_a_signed_test_event(page, bare_live_server, receiver):
    app = bare_live_server.app
    allow_loopback(app)  # the receiver is on 127.0.0.1
    with app.app_context():
        make_user("admin", email="admin@hooks.example")
    page.goto(f"{bare_live_server}/login")
    page.fill("#email", "admin@hooks.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard$"))

    page.goto(f"{bare_live_server}/integrations/webhooks")
    expect(page.locator(".empty-state")).to_contain_text("No webhook endpoints yet")
    page.fill("#enew-url", receiver.url("/abm"))
    page.fill("#enew-description", "Our CRM")
    page.uncheck("input[name=events][value='touchpoint.failed']")
    page.get_by_role("button", name="Add endpoint").click()
    secret_box = page.locator("#webhook-secret")
    expect(secret_box).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$"))
    secret = secret_box.input_value()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert _serious_violations(page) == []

    page.get_by_role("link", name=receiver.url("/abm")).click()
    expect(page.locator("h1")).to_have_text("Our CRM")
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("#flash")).to_contain_text("Delivered: the endpoint answered 200.")
    [got] = receiver.received
    assert webhooks.verify(secret, got.headers, got.body, datetime.now(timezone.utc))
    expect(page.locator("#deliveries")).to_contain_text("Test event")

    page.select_option("#f-status", "failed")
    expect(page).to_have_url(re.compile(r"status=failed"), timeout=15_000)  # a shared, busy machine
    expect(page.locator("#deliveries")).to_contain_text("No deliveries match these filters", timeout=15_000)
    page.select_option("#f-status", "")
    expect(page.locator("#deliveries")).to_contain_text("1 delivery", timeout=15_000)
    assert _serious_violations(page) == []
