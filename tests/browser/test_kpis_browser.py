"""The ABM results dashboard in headless Chromium: the charts are drawn, and every number on the
page matches the October 2026 fixture computed by hand in tests/test_kpis.py."""
import re

from playwright.sync_api import expect

from tests.browser.test_library_browser import _serious_violations
from tests.conftest import PASSWORD, make_user
from tests.test_kpis import build_october

OCTOBER = "period=custom&start=2026-10-01&end=2026-10-31"


def _open(page, server, role="campaign"):
    app = server.app
    with app.app_context():
        build_october(app)
        make_user(role, email=f"{role}@kpis.example")
    page.goto(f"{server}/login")
    page.fill("#email", f"{role}@kpis.example")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard$"))


def _card(page, key):
    return page.locator(f'[data-kpi="{key}"] .stat-value')


def test_the_dashboard_draws_its_charts_with_the_hand_computed_numbers(page, bare_live_server):
    _open(page, bare_live_server)
    page.locator("nav").get_by_role("link", name="Results").click()
    expect(page.locator("h1")).to_have_text("ABM results")
    page.goto(f"{bare_live_server}/kpis?{OCTOBER}")
    expected = {"mqas": "1", "engaged_accounts": "3", "leads": "2", "cost_per_lead": "$5,000",
                "time_on_page": "25.7 s", "emails_sent": "4", "open_rate": "25.0%", "click_rate": "25.0%",
                "contacts_per_account": "2", "engagement_per_account": "29.67", "meetings_per_account": "0.33",
                "proposals_sent": "1", "deals_won": "1", "revenue": "$50,000", "average_selling_price": "$50,000",
                "close_rate": "50.0%", "sales_cycle_days": "80 days", "pipeline_velocity": "$312 a day",
                "influence_rate": "50.0%", "churn_rate": "100.0%"}
    for key, text in expected.items():
        expect(_card(page, key)).to_have_text(text)
    # each chart is an SVG with one bar per week, and a bar's value is the number in the table beside it
    bars = page.locator("#chart-points rect.bar")
    expect(bars).to_have_count(5)
    assert [bars.nth(n).get_attribute("data-value") for n in range(5)] == ["44", "31", "15", "0", "0"]
    assert page.locator("#chart-points").evaluate("svg => svg.getBBox().width") > 100
    revenue = page.locator("#chart-revenue rect.bar")
    assert [revenue.nth(n).get_attribute("data-value") for n in range(5)] == ["$0", "$0", "$50,000", "$0", "$0"]
    expect(page.locator("#chart-rates circle")).to_have_count(4)  # open and click rates, weeks 1 and 2 (no email later)
    funnel = page.locator("#chart-funnel rect.bar")
    assert [funnel.nth(n).get_attribute("data-value") for n in range(5)] == ["3", "2", "2", "2", "1"]
    expect(page.locator('tr[data-stage="engaged"] td').last).to_have_text("66.7%")
    compare = page.locator("#compare-table")
    expect(compare.locator('tr[data-measure="spend"] td')).to_have_text(["$4,000", "$6,000"])
    expect(compare.locator('tr[data-measure="revenue"] td')).to_have_text(["$50,000", "$0"])
    expect(compare.locator('tr[data-measure="roi"] td')).to_have_text(["1,150.0%", "-100.0%"])
    assert _serious_violations(page) == []


def test_a_tier_filter_and_the_csv_export_keep_the_scope(page, bare_live_server):
    _open(page, bare_live_server, role="sales")
    page.goto(f"{bare_live_server}/kpis?{OCTOBER}")
    page.select_option("#k-tier", "1")
    page.click(".filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"tier=1"))
    expect(_card(page, "emails_sent")).to_have_text("3")
    expect(_card(page, "contacts_per_account")).to_have_text("2.5")
    href = page.get_by_role("link", name="Export CSV").get_attribute("href")
    response = page.request.get(f"{bare_live_server}{href}")  # the signed-in browser's own cookies
    assert response.headers["content-disposition"].startswith("attachment")
    text = response.text()
    assert "kpi,emails_sent,2026-10-01,2026-10-31,3" in text


def test_a_bad_custom_period_is_named_and_the_default_shown(page, bare_live_server):
    _open(page, bare_live_server)
    page.goto(f"{bare_live_server}/kpis?period=custom&start=2026-10-31&end=2026-10-01")
    expect(page.locator("#k-end-error")).to_have_text("The last day comes before the first.")
    expect(page.locator("#k-end")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-kpi=mqas]")).to_be_visible()
