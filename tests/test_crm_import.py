"""Importing CRM exports: whole or nothing, deduped, re-importable, never resubscribing."""
from pathlib import Path

import pytest

from abmcontent import crm_import
from abmcontent.errors import ValidationError
from abmcontent.models import Account, AccountDomain, Consent, Contact, ImportJob, ImportMapping
from tests.conftest import NOW, make_user

SP500 = Path(__file__).resolve().parent.parent / "abmcontent" / "demo_data" / "sp500_constituents.csv"

HUBSPOT_COMPANIES = """Record ID,Company name,Company Domain Name,Number of Employees,Annual Revenue,Industry,City,State/Region,Country/Region,Company owner
101,Acme Analytics,acme.example,1200,"$250,000,000",COMPUTER_SOFTWARE,Boston,Massachusetts,United States,sales@example.com
102,Beta Bank Inc.,betabank.example,5000,1500000000,BANKING,New York,NY,United States,
103,"Gamma, Ltd",gamma.example,80,9000000,RETAIL,London,,United Kingdom,Nobody Here
"""
HUBSPOT_CONTACTS = """Record ID,First Name,Last Name,Email,Job Title,Company Name,Unsubscribed from all email
1,Ana,Lopez,ana@acme.example,CFO,Acme Analytics,false
2,Ben,Stone,ben@betabank.example,Data Architect,Beta Bank,true
3,Cho,Min,cho@newco.example,CTO,New Co,false
"""


def run(kind, text: str | bytes, app, user=None, dry_run=False, mapping=None, progress=None):
    data = text.encode("utf-8") if isinstance(text, str) else text
    job = crm_import.create_job(kind, f"{kind}.csv", data, user, NOW, app.config["UPLOAD_FOLDER"],
                                dry_run=dry_run, mapping=mapping)
    if job.status == "needs_mapping":
        return job, None
    assert crm_import.claim_next() == job.id
    return job, crm_import.run_job(job.id, NOW, app.config["UPLOAD_FOLDER"], progress)


def test_the_sp500_file_imports_whole_with_share_classes_merged(app):
    seen = []
    job, report = run("accounts", SP500.read_bytes(), app, progress=lambda done, total: seen.append((done, total)))
    assert report.layout == "sp500" and report.rejected == [] and report.saved
    assert report.rows == 503 and report.merged >= 1          # GOOGL and GOOG are one company
    assert Account.query.count() == report.added == 503 - report.merged
    three_m = Account.query.filter_by(name="3M").one()
    assert (three_m.city, three_m.region, three_m.country, three_m.industry) == ("Saint Paul", "MN", "US", "industrials")
    assert three_m.icp_score is not None
    assert Account.query.filter(Account.name.like("Est%e Lauder%")).count() == 1
    assert seen[-1] == (503, 503) and job.status == "done" and job.processed_rows == 503


def test_reimporting_updates_and_never_duplicates(app):
    make_user("sales", email="sales@example.com")
    _job, first = run("accounts", HUBSPOT_COMPANIES, app)
    assert (first.added, first.updated) == (3, 0)
    _job, again = run("accounts", HUBSPOT_COMPANIES, app)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    changed = HUBSPOT_COMPANIES.replace("1200,", "1300,")
    _job, third = run("accounts", changed, app)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 2)
    acme = Account.query.filter_by(domain="acme.example").one()
    assert acme.employees == 1300 and acme.owner.email == "sales@example.com"
    assert acme.region == "MA" and acme.industry == "information_technology"
    assert Account.query.count() == 3 and AccountDomain.query.count() == 3
    assert any("Nobody Here" in w for w in first.warnings)


def test_dedupe_falls_back_to_the_normalised_name(app):
    run("accounts", "Company name,City\nBeta Bank Inc.,New York\n", app)
    _job, report = run("accounts", "Company name,Company Domain Name\nBETA BANK,betabank.example\n", app)
    assert (report.added, report.updated) == (0, 1)
    assert Account.query.one().domain == "betabank.example"


def test_one_bad_row_means_nothing_is_imported_and_every_bad_row_is_reported(app):
    bad = HUBSPOT_COMPANIES + '104,,nameless.example,10,1,RETAIL,,,,\n105,Lots Inc,lots.example,10,lots,RETAIL,,,,\n'
    job, report = run("accounts", bad, app)
    assert not report.saved and Account.query.count() == 0
    lines = {r["line"] for r in report.rejected}
    assert lines == {5, 6}
    assert job.status == "done" and job.report["rejected"]


def test_dry_run_reports_and_saves_nothing(app):
    _job, report = run("accounts", HUBSPOT_COMPANIES, app, dry_run=True)
    assert report.added == 3 and not report.saved and Account.query.count() == 0


def test_contacts_attach_to_accounts_and_unsubscribes_stick(app):
    run("accounts", HUBSPOT_COMPANIES, app)
    _job, report = run("contacts", HUBSPOT_CONTACTS, app)
    assert (report.added, report.accounts_created, report.unsubscribed) == (3, 1, 1)
    ben = Contact.query.filter_by(email="ben@betabank.example").one()
    assert ben.account.name == "Beta Bank Inc." and ben.unsubscribed
    assert Contact.query.filter_by(email="cho@newco.example").one().account.name == "New Co"
    resubscribe = HUBSPOT_CONTACTS.replace("Data Architect,Beta Bank,true", "Chief Data Officer,Beta Bank,false")
    _job, again = run("contacts", resubscribe, app)
    assert again.added == 0 and again.updated == 1
    assert ben.title == "Chief Data Officer" and ben.unsubscribed  # a CRM re-import never resubscribes
    assert Contact.query.count() == 3


def test_contact_without_any_account_is_rejected(app):
    _job, report = run("contacts", "Email,First Name\nzed@unknown.example,Zed\n", app)
    assert report.rejected and "No account matches" in report.rejected[0]["errors"][0]
    assert Contact.query.count() == 0


def test_unknown_layout_asks_for_a_mapping_that_is_kept_for_next_time(app):
    text = "Firma,Netz,Mitarbeiter\nMüller GmbH,mueller.example,250\n"
    job, _ = run("accounts", text, app)
    assert job.status == "needs_mapping"
    with pytest.raises(ValidationError):
        crm_import.set_mapping(job.id, {"Firma": "nonsense"}, None, NOW)
    crm_import.set_mapping(job.id, {"Firma": "name", "Netz": "domain", "Mitarbeiter": "employees"}, None, NOW)
    assert ImportMapping.query.count() == 1
    crm_import.run_job(crm_import.claim_next(), NOW, app.config["UPLOAD_FOLDER"])
    assert Account.query.one().employees == 250
    second, report = run("accounts", text.replace("250", "300"), app)
    assert second.status == "done" and report.layout == "saved" and report.updated == 1


def test_cp949_file_from_korean_excel(app):
    text = "Company name,Industry,City,Country/Region\n한빛정밀 주식회사,제조,창원,대한민국\n(주)대한금융,금융,서울,대한민국\n"
    _job, report = run("accounts", text.encode("cp949"), app)
    assert report.added == 2
    names = sorted(a.name for a in Account.query)
    assert names == ["(주)대한금융", "한빛정밀 주식회사"]
    assert {a.country for a in Account.query} == {"KR"}


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not"),
])
def test_unreadable_files_are_refused_before_queueing(app, data, message):
    with pytest.raises(ValidationError) as caught:
        crm_import.create_job("accounts", "x.csv", data, None, NOW, app.config["UPLOAD_FOLDER"])
    assert message in str(caught.value).lower()
    assert ImportJob.query.count() == 0


def test_a_queued_job_is_claimed_by_one_worker_only(app):
    job = crm_import.create_job("accounts", "a.csv", HUBSPOT_COMPANIES.encode(), None, NOW, app.config["UPLOAD_FOLDER"])
    assert crm_import.claim_next() == job.id
    assert crm_import.claim_next() is None


def test_cli_imports_with_a_report_and_a_dry_run(app, runner, tmp_path):
    path = tmp_path / "companies.csv"
    path.write_text(HUBSPOT_COMPANIES)
    dry = runner.invoke(args=["accounts", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "3 would be added" in dry.output and Account.query.count() == 0
    real = runner.invoke(args=["accounts", "import", str(path)])
    assert "3 added" in real.output and Account.query.count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("Company name,Annual Revenue\nX,lots\n")
    failed = runner.invoke(args=["accounts", "import", str(bad)])
    assert failed.exit_code == 1 and "line 2" in failed.output and "Nothing imported" in failed.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("Firma\nX\n")
    refused = runner.invoke(args=["accounts", "import", str(unknown)])
    assert refused.exit_code == 1 and "not recognised" in refused.output
    mapped = runner.invoke(args=["accounts", "import", str(unknown), "--mapping", "Firma=name"])
    assert mapped.exit_code == 0, mapped.output
    missing = runner.invoke(args=["accounts", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_imported_email_consent_is_recorded_with_its_source(app):
    run("accounts", HUBSPOT_COMPANIES, app)
    run("contacts", "Email,First Name,Company Name,consent_email\nana@acme.example,Ana,Acme Analytics,yes\n", app)
    consent = Consent.query.one()
    assert consent.channel == "email" and "CRM import" in consent.source and consent.wording


def test_a_second_domain_joins_the_account_and_the_main_domain_stays(app):
    run("accounts", "Company name,Company Domain Name\nBeta Bank,betabank.example\n", app)
    _job, report = run("accounts", "Company name,Company Domain Name\nBeta Bank,beta-bank.example\n", app)
    account = Account.query.one()
    assert report.updated == 1 and report.unchanged == 0  # the account gained a domain
    assert account.domain == "betabank.example"
    assert sorted(d.domain for d in account.domains) == ["beta-bank.example", "betabank.example"]
    _job, again = run("accounts", "Company name,Company Domain Name\nAnything,beta-bank.example\n", app)
    assert again.added == 0 and Account.query.count() == 1
