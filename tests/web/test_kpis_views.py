"""The ABM results page, its CSV export and the marketing-spend page, as users reach them."""
from __future__ import annotations

import csv
import io

from abmcontent.extensions import db
from abmcontent.models import Account, Spend
from tests.conftest import login, make_user
from tests.test_kpis import build_october

OCTOBER = "period=custom&start=2026-10-01&end=2026-10-31"


def test_every_signed_in_role_sees_the_results_and_visitors_do_not(app, client):
    assert client.get("/kpis").status_code == 302
    login(client, make_user("sales"))
    page = client.get("/kpis")
    assert page.status_code == 200 and "Nothing to measure in this period yet" in page.text


def test_the_page_shows_the_figures_charts_and_numbers_beside_them(app, client):
    build_october(app)
    login(client, make_user("marketer"))
    html = client.get(f"/kpis?{OCTOBER}").text
    assert 'data-kpi="open_rate"><span class="stat-value">25.0%' in html
    assert html.count("<svg class=\"chart") == 6 and html.count('class="data chart-numbers"') == 5
    assert "Nothing to measure" not in html and "<script" not in html.split("</header>")[-1]


def test_the_csv_export_holds_the_figures_of_the_chosen_scope_as_numbers(app, client):
    build_october(app)
    login(client, make_user("campaign"))
    response = client.get(f"/kpis/export.csv?{OCTOBER}&tier=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpis-2026-10-01-2026-10-31.csv"'
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["section", "measure", "from", "to", "value"]
    assert ["kpi", "emails_sent", "2026-10-01", "2026-10-31", "3"] in rows
    assert ["program:abm", "revenue", "2026-10-01", "2026-10-31", "50000"] in rows
    assert ["program:general", "roi", "2026-10-01", "2026-10-31", "-1.0"] in rows  # a number, not text


def test_bad_filters_are_named_and_the_default_period_shown(client):
    login(client, make_user("sales"))
    response = client.get("/kpis?period=custom&start=yesterday&end=2026-10-01&tier=9")
    assert response.status_code == 422
    assert "Enter the first day as YYYY-MM-DD." in response.text and "Choose tier 1, 2 or 3." in response.text
    assert client.get("/kpis/export.csv?period=forever").status_code == 422


def test_hostile_plan_names_are_escaped_in_the_filter(app, client):
    from abmcontent.models import Plan

    db.session.add(Plan(name="<img src=x onerror=alert(1)>"))
    db.session.commit()
    login(client, make_user("sales"))
    html = client.get("/kpis").text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_marketer_records_and_removes_spend(app, client):
    login(client, make_user("marketer"))
    response = client.post("/kpis/spend", data={"program": "abm", "category": "advertising", "month": "2026-10",
                                                "amount": "12,500", "note": "LinkedIn ads"})
    assert response.status_code == 303
    [row] = db.session.scalars(db.select(Spend)).all()
    assert (row.program, row.category, row.month.isoformat(), row.amount) == ("abm", "advertising", "2026-10-01", 12_500)
    page = client.get("/kpis/spend?year=2026").text
    assert "LinkedIn ads" in page and "$12,500" in page
    assert client.post(f"/kpis/spend/{row.id}/delete", data={"year": "2026"}).status_code == 303
    assert db.session.scalars(db.select(Spend)).all() == []


def test_bad_spend_comes_back_explained_with_what_was_typed(client):
    login(client, make_user("campaign"))
    response = client.post("/kpis/spend", data={"program": "abm", "category": "snacks", "month": "October",
                                                "amount": "12.5k", "plan_id": "999"})
    assert response.status_code == 422
    for message in ("Choose a category from the list.", "Choose the month, e.g. 2026-10.",
                    "Enter the amount in whole dollars, e.g. 12,500.", "That plan no longer exists."):
        assert message in response.text
    assert 'value="12.5k"' in response.text and 'aria-invalid="true"' in response.text
    assert db.session.scalars(db.select(Spend)).all() == []


def test_a_sales_rep_reads_spend_but_cannot_record_it(app, client):
    login(client, make_user("sales"))
    assert "Record spend" not in client.get("/kpis/spend").text
    assert client.post("/kpis/spend", data={"program": "abm", "category": "content", "month": "2026-10",
                                            "amount": "1"}).status_code == 403


def test_spend_changes_cost_per_lead_on_the_results(app, client):
    build_october(app)
    login(client, make_user("marketer"))
    client.post("/kpis/spend", data={"program": "general", "category": "content", "month": "2026-10", "amount": "2000"})
    html = client.get(f"/kpis?{OCTOBER}").text
    assert 'data-kpi="cost_per_lead"><span class="stat-value">$6,000' in html  # (10,000 + 2,000) / 2 leads
    assert db.session.scalar(db.select(db.func.count()).select_from(Account)) == 4
