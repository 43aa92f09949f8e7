import io

import pytest

from abmcontent import crm_import
from abmcontent.models import Account, ImportJob
from tests.conftest import login, make_user
from tests.test_accounts import make_account

HX = {"HX-Request": "true"}


@pytest.fixture
def campaign(client):
    user = make_user("campaign")
    login(client, user)
    return user


def test_account_list_page_and_fragment(client, campaign):
    make_account(campaign)
    page = client.get("/accounts?industry=financials")
    fragment = client.get("/accounts?industry=financials", headers=HX)
    assert "<html" in page.text and "Harborview Bank" in page.text
    assert "<html" not in fragment.text and "Harborview Bank" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_empty_account_list_says_what_to_do(client, campaign):
    assert "Import an export from Salesforce or HubSpot" in client.get("/accounts").text


def test_account_page_shows_score_breakdown_and_missing_roles(client, campaign):
    account = make_account(campaign)
    page = client.get(f"/accounts/{account.id}")
    assert page.status_code == 200
    assert "Why this score" in page.text and "Missing roles" in page.text and "Economic buyer" in page.text


def test_qualification_saves_in_place_through_htmx(client, campaign):
    account = make_account(campaign)
    response = client.post(f"/accounts/{account.id}/qualification", headers=HX, data={
        "bant-budget-status": "confirmed", "bant-budget-note": "FY27 budget", "challenges": "Data migration"})
    assert response.status_code == 200 and "<html" not in response.text and "Saved." in response.text
    assert account.bant["budget"]["note"] == "FY27 budget" and account.challenges == "Data migration"


def test_marketers_can_read_accounts_but_not_change_them(client):
    account = make_account()
    login(client, make_user("marketer"))
    assert client.get(f"/accounts/{account.id}").status_code == 200
    assert client.get("/accounts/new").status_code == 403
    assert client.post("/accounts/bulk", data={"ids": [account.id], "set_tier": "3"}).status_code == 403
    assert client.post(f"/accounts/{account.id}/qualification", data={"goals": "x"}).status_code == 403
    assert client.get("/imports/new").status_code == 403
    assert client.post("/icp", data={}).status_code == 403
    assert account.goals == ""


def test_bulk_action_applies_to_all_matching_accounts(client, campaign):
    make_account(campaign)
    make_account(campaign, name="Other", domains=["o.example"], industry="energy")
    response = client.post("/accounts/bulk", data={"scope": "all", "industry": "energy", "set_stage": "decision"})
    assert response.status_code == 303
    assert {a.name: a.journey_stage for a in Account.query} == {"Harborview Bank": "awareness", "Other": "decision"}


def test_csv_export_neutralises_formulas(client, campaign):
    make_account(campaign, name="=cmd|' /C calc'!A0", domains=["evil.example"])
    response = client.get("/accounts/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data.decode("utf-8-sig")
    assert "'=cmd" in body and "\n=cmd" not in body


def test_new_account_form_shows_errors_inline(client, campaign):
    response = client.post("/accounts/new", data={"name": "", "employees": "many"})
    assert response.status_code == 422 and "whole number" in response.text
    ok = client.post("/accounts/new", data={"name": "Delta Co", "domains": "https://www.delta.example/",
                                            "industry": "energy", "journey_stage": "awareness"})
    assert ok.status_code == 303 and Account.query.one().domain == "delta.example"


def test_icp_editor_previews_and_saves(client, campaign, app):
    make_account(campaign)
    page = client.get("/icp")
    assert page.status_code == 200 and "Tier 1" in page.text
    form = {"c-0-attribute": "region", "c-0-label": "Region", "c-0-weight": "1",
            "c-0-b-0-values": "us-northeast", "c-0-b-0-score": "100",
            "c-0-b-1-values": "US-CONTINENTAL", "c-0-b-1-score": "60",
            "tier1": "90", "tier2": "50", "tier3": "10"}
    preview = client.post("/icp/preview", headers=HX, data=form)
    assert preview.status_code == 200 and "<html" not in preview.text
    bad = client.post("/icp", data={**form, "c-0-b-0-score": "150"})
    assert bad.status_code == 422
    saved = client.post("/icp", data=form)
    assert saved.status_code == 303
    assert Account.query.one().icp_score == 100.0


def test_upload_import_shows_progress_then_the_report(client, campaign, app):
    csv = b"Company name,Company Domain Name\nAcme,acme.example\nBeta,beta.example\n"
    response = client.post("/imports/new", content_type="multipart/form-data",
                           data={"kind": "accounts", "file": (io.BytesIO(csv), "companies.csv")})
    assert response.status_code == 303
    job = ImportJob.query.one()
    waiting = client.get(f"/imports/{job.id}", headers=HX)
    assert waiting.status_code == 200 and "<progress" in waiting.text
    crm_import.run_queued(job.created_at, app.config["UPLOAD_FOLDER"])
    done = client.get(f"/imports/{job.id}", headers=HX)
    assert done.status_code == 286 and "Import finished" in done.text
    assert Account.query.count() == 2


def test_upload_of_an_unknown_layout_goes_through_the_mapping_screen(client, campaign, app):
    csv = "Firma;Netz\nMüller GmbH;mueller.example\n".encode("utf-8-sig")
    response = client.post("/imports/new", content_type="multipart/form-data",
                           data={"kind": "accounts", "file": (io.BytesIO(csv), "firmen.csv")})
    assert response.status_code == 303 and "/mapping" in response.headers["Location"]
    job = ImportJob.query.one()
    screen = client.get(f"/imports/{job.id}/mapping")
    assert "Firma" in screen.text
    mapped = client.post(f"/imports/{job.id}/mapping", data={"map-0": "name", "map-1": "domain"})
    assert mapped.status_code == 303
    crm_import.run_queued(job.created_at, app.config["UPLOAD_FOLDER"])
    assert Account.query.one().name == "Müller GmbH"


def test_bad_upload_is_refused_in_words(client, campaign):
    response = client.post("/imports/new", content_type="multipart/form-data",
                           data={"kind": "accounts", "file": (io.BytesIO(b""), "empty.csv")})
    assert response.status_code == 422 and "empty" in response.text.lower()


def test_stakeholder_form_adds_to_the_map_or_shows_errors_inline(client, campaign):
    account = make_account(campaign)
    bad = client.post(f"/accounts/{account.id}/stakeholders", data={"first_name": "Ann", "email": "ann@"})
    assert bad.status_code == 422 and "valid email" in bad.text and 'value="Ann"' in bad.text
    ok = client.post(f"/accounts/{account.id}/stakeholders",
                     data={"first_name": "Ann", "email": "ann@harborview.example", "persona": "end_user"})
    assert ok.status_code == 303
    page = client.get(f"/accounts/{account.id}")
    assert "Ann" in page.text and "End user" in page.text


def test_account_page_recommends_published_content_per_persona_with_reasons(client, campaign):
    from tests.conftest import make_asset

    marketer = make_user("marketer")
    from abmcontent import accounts

    account = make_account(campaign, journey_stage="consideration")
    accounts.update_qualification(account.id, None, {"challenges": "Data migration off Teradata"}, campaign,
                                  account.created_at)
    make_asset(marketer, status="published", title="The migration playbook", body="Data migration steps",
               stages=["consideration"], personas=["technical_evaluator"])
    make_asset(marketer, status="draft", title="Unpublished draft", body="Data migration",
               stages=["consideration"], personas=["technical_evaluator"])
    page = client.get(f"/accounts/{account.id}")
    assert "The migration playbook" in page.text and "Unpublished draft" not in page.text
    assert "stage: Consideration" in page.text


def test_a_korean_uploader_gets_the_rejected_rows_in_korean(client, campaign, app):
    csv = "Company name,Annual Revenue\nAcme,lots\n".encode()
    client.post("/language", data={"locale": "ko"})
    client.post("/imports/new", content_type="multipart/form-data",
                data={"kind": "accounts", "file": (io.BytesIO(csv), "bad.csv")})
    job = ImportJob.query.one()
    assert job.locale == "ko"
    crm_import.run_queued(job.created_at, app.config["UPLOAD_FOLDER"])  # the scheduler has no request
    errors = ImportJob.query.one().report["rejected"][0]["errors"]
    assert "lots" in errors[0] and "숫자" in errors[0]  # Korean, with the value quoted


def test_icp_industry_bands_are_ticked_boxes(client, campaign):
    make_account(campaign)
    page = client.get("/icp")
    assert 'type="checkbox" name="c-0-b-0-values" value="financials" checked' in page.text
    form = {"c-0-attribute": "industry", "c-0-weight": "1", "c-0-b-0-values": ["energy", "utilities"],
            "c-0-b-0-score": "100", "tier1": "90", "tier2": "50", "tier3": "10"}
    assert client.post("/icp", data=form).status_code == 303
    from abmcontent import scoring

    criteria, _thresholds = scoring.load()
    assert criteria[0].bands[0].values == ("energy", "utilities")
    assert Account.query.one().icp_score == 0.0  # a bank scores nothing against an energy ICP
