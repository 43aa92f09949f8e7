"""Deals: the rules every deal row keeps (the KPIs count them as they are), who may change which
deal, closing, reopening and churn, the lists, the CSV import (all or nothing) and the export."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from abmcontent import deal_import, deals
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Deal
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account


def deal_input(**changes) -> deals.DealInput:
    values = dict(name="Data platform 2027", stage="proposal", amount="48,000", created_on="2026-09-01")
    values.update(changes)
    return deals.DealInput(**values)


def errors_of(**changes) -> dict[str, list[str]]:
    errors, _values = deals.validate(deal_input(**changes), NOW)
    return errors


@pytest.fixture
def boss(app):
    return make_user("campaign")


@pytest.fixture
def account(boss):
    return make_account(boss)


# --- the rules ---------------------------------------------------------------------------------------

def test_a_valid_deal_comes_out_clean():
    errors, values = deals.validate(deal_input(meetings="3", proposal_sent_on="2026-10-05", crm_id=" OPP-1 "), NOW)
    assert errors == {}
    assert (values.amount, values.created_on, values.proposal_sent_on, values.meetings, values.crm_id) == (
        48000, date(2026, 9, 1), date(2026, 10, 5), 3, "OPP-1")


@pytest.mark.parametrize("typed, amount", [("12,500", 12500), ("12500.00", 12500), ("12500", 12500),
                                           ("$12,500", 12500), ("12 500 USD", 12500), ("0", 0), ("", None)])
def test_amounts_are_read_as_whole_dollars(typed, amount, app):
    assert deals.parse_amount(typed) == amount


@pytest.mark.parametrize("typed", ["12.5k", "12500.50", "1.2M", "twelve", "12,50", "₩12,500"])
def test_amounts_that_could_be_misread_are_refused_with_an_example(typed, app):
    errors = errors_of(amount=typed)
    assert errors["amount"] == [f"“{typed}” is not a whole amount in dollars. Write the full number, like 12500 "
                                "or 12,500."]


def test_a_negative_amount_is_refused(app):
    assert errors_of(amount="-500") == {"amount": ["An amount can't be negative."]}


@pytest.mark.parametrize("typed", ["2026-03-01", "2026/03/01", "2026.03.01", "2026. 3. 1.", "2026년 3월 1일",
                                   "03/01/2026", "3/1/2026", "2026-03-01T10:15:00.000+0000", "2026-03-01 00:00:00"])
def test_dates_are_read_as_people_and_spreadsheets_write_them(typed, app):
    assert deals.parse_date(typed) == date(2026, 3, 1)


def test_a_year_last_date_is_month_first_unless_told_day_first(app):
    assert deals.parse_date("03/01/2026") == date(2026, 3, 1)
    assert deals.parse_date("03/01/2026", day_first=True) == date(2026, 1, 3)
    with pytest.raises(deals.BadValue, match="not a date in month/day/year order"):
        deals.parse_date("25/03/2026")


@pytest.mark.parametrize("typed", ["03/01/26", "2026-02-30", "next Tuesday", "2026-03-01 and more"])
def test_dates_that_are_not_dates_are_refused_with_an_example(typed, app):
    assert errors_of(created_on=typed)["created_on"][0].endswith("Write it like 2026-03-01.")


def test_a_deal_needs_a_name_a_stage_and_its_creation_date(app):
    errors = errors_of(name="  ", stage="won-ish", created_on="")
    assert errors == {"name": ["Give the deal a name."], "stage": ["Choose a stage."],
                      "created_on": ["Enter the date the deal was created."]}


def test_dates_in_the_future_are_refused(app):
    later = (NOW.date() + timedelta(days=2)).isoformat()
    assert errors_of(created_on=later) == {"created_on": [f"{later} is in the future."]}
    tomorrow = (NOW.date() + timedelta(days=1)).isoformat()  # already today east of UTC
    assert errors_of(created_on=tomorrow) == {}


def test_a_proposal_is_not_sent_before_the_deal_was_created(app):
    assert errors_of(proposal_sent_on="2026-08-31") == {
        "proposal_sent_on": ["The proposal can't be sent before the deal was created (2026-09-01)."]}
    assert errors_of(proposal_sent_on="2026-09-01") == {}


def test_a_closed_deal_needs_its_closed_date_not_before_it_was_created(app):
    assert errors_of(stage="closed_won") == {"closed_on": ["Enter the date the deal was won or lost."]}
    assert errors_of(stage="closed_won", closed_on="2026-08-01") == {
        "closed_on": ["A deal can't close before it was created (2026-09-01)."]}


def test_a_lost_deal_needs_a_reason_and_a_won_deal_its_amount(app):
    assert list(errors_of(stage="closed_lost", closed_on="2026-10-01", close_reason=" ")) == ["close_reason"]
    assert errors_of(stage="closed_won", closed_on="2026-10-01", amount="") == {
        "amount": ["A won deal needs its amount."]}
    assert errors_of(stage="closed_lost", closed_on="2026-10-01", close_reason="No budget", amount="") == {}
    assert errors_of(stage="closed_won", closed_on="2026-10-01", close_reason="") == {}  # a reason is optional


def test_only_a_won_deal_churns_and_not_before_it_was_won(app):
    lost = dict(stage="closed_lost", closed_on="2026-10-01", close_reason="No budget")
    assert errors_of(**lost, churned_on="2026-10-20") == {"churned_on": ["Only a won deal can churn."]}
    won = dict(stage="closed_won", closed_on="2026-10-01")
    assert errors_of(**won, churned_on="2026-09-20") == {
        "churned_on": ["A customer can't leave before the deal was won (2026-10-01)."]}
    _errors, values = deals.validate(deal_input(**won, churned_on="2026-10-20"), NOW)
    assert values.churned_on == date(2026, 10, 20)


def test_an_open_deal_keeps_no_closed_date_reason_or_churn(app):
    errors, values = deals.validate(deal_input(stage="negotiation", closed_on="2026-12-31", close_reason="x",
                                               churned_on="2026-12-31"), NOW)
    assert errors == {} and (values.closed_on, values.close_reason, values.churned_on) == (None, "", None)


@pytest.mark.parametrize("typed", ["-1", "2.5", "lots", "10001"])
def test_meetings_are_a_whole_number_of_zero_or_more(typed, app):
    assert errors_of(meetings=typed) == {"meetings": ["Enter the number of meetings as a whole number, 0 or more."]}


# --- who may do what ------------------------------------------------------------------------------------

def test_a_sales_rep_adds_deals_to_the_accounts_they_own_only(boss):
    rep, other = make_user("sales"), make_user("sales")
    mine = make_account(boss, name="Mine Corp", domains=["mine.example"], owner_id=rep.id)
    theirs = make_account(boss, name="Theirs Corp", domains=["theirs.example"], owner_id=other.id)
    deal = deals.create_deal(mine.id, deal_input(owner_id=str(rep.id)), rep, NOW)
    assert (deal.account_id, deal.owner_id, deal.source, deal.created_at) == (mine.id, rep.id, "ui", NOW)
    with pytest.raises(PermissionDenied):
        deals.create_deal(theirs.id, deal_input(), rep, NOW)
    assert Deal.query.count() == 1


def test_a_sales_rep_edits_deals_they_own_even_on_another_reps_account(boss):
    rep, other = make_user("sales"), make_user("sales")
    theirs = make_account(boss, name="Theirs Corp", domains=["theirs.example"], owner_id=other.id)
    owned = deals.create_deal(theirs.id, deal_input(owner_id=str(rep.id)), boss, NOW)
    not_owned = deals.create_deal(theirs.id, deal_input(name="Other", owner_id=str(other.id)), boss, NOW)
    deals.update_deal(owned.id, deal_input(owner_id=str(rep.id), meetings="2"), rep, NOW)
    assert owned.meetings == 2
    with pytest.raises(PermissionDenied):
        deals.update_deal(not_owned.id, deal_input(owner_id=str(other.id), meetings="9"), rep, NOW)
    with pytest.raises(PermissionDenied):
        deals.close_deal(not_owned.id, False, "No budget", "", "", rep, NOW)
    assert db.session.get(Deal, not_owned.id).meetings == 0


def test_a_content_marketer_reads_deals_but_changes_none(boss, account):
    marketer = make_user("marketer")
    deal = deals.create_deal(account.id, deal_input(), boss, NOW)
    with pytest.raises(PermissionDenied):
        deals.create_deal(account.id, deal_input(), marketer, NOW)
    with pytest.raises(PermissionDenied):
        deals.update_deal(deal.id, deal_input(name="Renamed"), marketer, NOW)
    with pytest.raises(PermissionDenied):
        deals.mark_churned(deal.id, "2026-10-01", marketer, NOW)
    assert deals.deals_for_account(account.id) == [deal] and deal.name == "Data platform 2027"


def test_only_campaign_managers_and_admins_delete_deals(boss, account):
    rep = make_user("sales")
    account.owner_id = rep.id
    db.session.commit()
    deal = deals.create_deal(account.id, deal_input(), rep, NOW)
    with pytest.raises(PermissionDenied):
        deals.delete_deal(deal.id, rep)
    assert deals.delete_deal(deal.id, make_user("admin")) == account.id
    with pytest.raises(NotFound):
        deals.get_deal(deal.id)


def test_the_owner_must_be_an_active_seller(boss, account):
    with pytest.raises(ValidationError) as caught:
        deals.create_deal(account.id, deal_input(owner_id=str(make_user("marketer").id)), boss, NOW)
    assert list(caught.value.errors) == ["owner_id"]


def test_a_crm_id_belongs_to_one_deal(boss, account):
    deals.create_deal(account.id, deal_input(crm_id="OPP-1"), boss, NOW)
    with pytest.raises(ValidationError) as caught:
        deals.create_deal(account.id, deal_input(crm_id="OPP-1"), boss, NOW)
    assert caught.value.errors == {"crm_id": ["Another deal already has this CRM id."]}


# --- closing, reopening, churn -----------------------------------------------------------------------

def test_closing_lost_needs_a_reason_and_closes_today_by_default(boss, account):
    deal = deals.create_deal(account.id, deal_input(), boss, NOW)
    with pytest.raises(ValidationError) as caught:
        deals.close_deal(deal.id, False, "  ", "", "", boss, NOW)
    assert list(caught.value.errors) == ["close_reason"]
    db.session.rollback()
    deal = deals.close_deal(deal.id, False, "Chose a competitor", "", "", boss, NOW)
    assert (deal.stage, deal.closed_on, deal.close_reason, deal.updated_at) == (
        "closed_lost", NOW.date(), "Chose a competitor", NOW)


def test_closing_won_keeps_the_deals_amount_or_takes_a_new_one(boss, account):
    deal = deals.create_deal(account.id, deal_input(), boss, NOW)
    deals.close_deal(deal.id, True, "", "", "2026-10-30", boss, NOW)
    assert (deal.stage, deal.amount, deal.closed_on, deal.close_reason) == ("closed_won", 48000, date(2026, 10, 30), "")
    without = deals.create_deal(account.id, deal_input(name="No amount", amount=""), boss, NOW)
    with pytest.raises(ValidationError) as caught:
        deals.close_deal(without.id, True, "", "", "", boss, NOW)
    assert caught.value.errors == {"amount": ["A won deal needs its amount."]}
    db.session.rollback()
    deals.close_deal(without.id, True, "Champion in finance", "9,900", "", boss, NOW)
    assert db.session.get(Deal, without.id).amount == 9900


def test_reopening_a_closed_deal_clears_its_close_and_churn(boss, account):
    deal = deals.create_deal(account.id, deal_input(), boss, NOW)
    deals.close_deal(deal.id, True, "Great fit", "", "2026-10-01", boss, NOW)
    deals.mark_churned(deal.id, "2026-10-20", boss, NOW)
    later = NOW + timedelta(hours=2)
    data = deals.input_for(deal)  # the form as it shows the closed deal, with only the stage changed
    data.stage = "negotiation"
    reopened = deals.update_deal(deal.id, data, boss, later)
    assert (reopened.stage, reopened.closed_on, reopened.close_reason, reopened.churned_on, reopened.updated_at) == (
        "negotiation", None, "", None, later)


def test_only_a_won_deal_can_be_marked_churned(boss, account):
    deal = deals.create_deal(account.id, deal_input(), boss, NOW)
    with pytest.raises(InvalidTransition):
        deals.mark_churned(deal.id, "2026-10-20", boss, NOW)
    deals.close_deal(deal.id, True, "", "", "2026-10-01", boss, NOW)
    with pytest.raises(ValidationError) as caught:
        deals.mark_churned(deal.id, "2026-09-30", boss, NOW)
    assert list(caught.value.errors) == ["churned_on"]
    db.session.rollback()
    with pytest.raises(ValidationError):
        deals.mark_churned(deal.id, "", boss, NOW)
    assert deals.mark_churned(deal.id, "2026-10-20", boss, NOW).churned_on == date(2026, 10, 20)


# --- lists -------------------------------------------------------------------------------------------

def _closed(account, boss, name, won, closed_on, amount="10000", owner=None):
    deal = deals.create_deal(account.id, deal_input(name=name, amount=amount, created_on="2026-01-05",
                                                    owner_id=str(owner.id) if owner else ""), boss, NOW)
    return deals.close_deal(deal.id, won, "" if won else "No budget", "", closed_on, boss, NOW)


def test_search_filters_by_stage_owner_account_and_closed_dates_and_pages(boss, account):
    rep = make_user("sales")
    other = make_account(boss, name="Northwind Logistics", domains=["northwind.example"])
    open_one = deals.create_deal(account.id, deal_input(name="Open one", owner_id=str(rep.id)), boss, NOW)
    won = _closed(other, boss, "Won one", True, "2026-10-10")
    lost = _closed(other, boss, "Lost one", False, "2026-06-10", owner=rep)
    assert deals.search(deals.DealFilters(stage="open")).items == [open_one]
    assert {d.id for d in deals.search(deals.DealFilters(stage="closed")).items} == {won.id, lost.id}
    assert deals.search(deals.DealFilters(stage="closed_lost")).items == [lost]
    assert {d.id for d in deals.search(deals.DealFilters(owner=str(rep.id))).items} == {open_one.id, lost.id}
    assert deals.search(deals.DealFilters(owner="none")).items == [won]
    assert {d.id for d in deals.search(deals.DealFilters(q="northwind")).items} == {won.id, lost.id}
    assert deals.search(deals.DealFilters(q="Open")).items == [open_one]
    assert deals.search(deals.DealFilters(closed_from="2026-07-01", closed_to="2026-12-31")).items == [won]
    assert deals.search(deals.DealFilters(q="100%_")).total == 0  # wildcards are text
    page = deals.search(deals.DealFilters(sort="amount", direction="asc", page=9), page_size=2)
    assert (page.page, page.pages, page.total, len(page.items)) == (2, 2, 3, 1)  # past the end: the last page


def test_totals_are_the_open_pipeline_and_this_quarters_wins(boss, account):
    deals.create_deal(account.id, deal_input(amount="48,000"), boss, NOW)
    deals.create_deal(account.id, deal_input(name="Second", amount="2,000", stage="qualification"), boss, NOW)
    _closed(account, boss, "This quarter", True, "2026-10-02", amount="7000")
    _closed(account, boss, "Last quarter", True, "2026-09-30", amount="9000")
    totals = deals.totals(deals.DealFilters(), NOW)
    assert (totals.open_amount, totals.open_count, totals.won_amount, totals.won_count) == (50000, 2, 7000, 1)
    assert (totals.quarter_start, totals.quarter_end) == (date(2026, 10, 1), date(2026, 12, 31))
    assert deals.totals(deals.DealFilters(q="nothing like it"), NOW).open_count == 0


def test_marketing_sees_recent_closes_with_reasons_and_counts(boss, account):
    _closed(account, boss, "Recent win", True, "2026-10-10")
    _closed(account, boss, "Recent loss", False, "2026-09-01")
    _closed(account, boss, "Old loss", False, "2026-03-01")
    since = NOW - timedelta(days=90)
    assert [d.name for d in deals.recent_closed(since)] == ["Recent win", "Recent loss"]
    counts = deals.close_counts(since)
    assert (counts.won, counts.lost, counts.won_amount) == (1, 1, 10000)


def test_the_export_neutralises_formulas_and_reads_back_unchanged(boss, account):
    rep = make_user("sales", email="rep@example.com")
    deals.create_deal(account.id, deal_input(name='=HYPERLINK("http://evil.example","Click")', crm_id="OPP-9",
                                             owner_id=str(rep.id)), boss, NOW)
    deal = deals.create_deal(account.id, deal_input(name="Plain", crm_id="OPP-10"), boss, NOW)
    deals.close_deal(deal.id, False, "@SUM(1+1) -- said no", "", "2026-10-01", boss, NOW)
    from abmcontent import crm_csv

    data = b"".join(crm_csv.export_csv(deals.EXPORT_HEADERS, deals.export_rows(deals.DealFilters())))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == deals.EXPORT_HEADERS
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(\"http://evil.example\",\"Click\")" in cells and "'@SUM(1+1) -- said no" in cells
    assert "rep@example.com" in cells and not any(c.startswith(("=", "@", "+", "-")) for c in cells)
    # The export is an import file: the same deals come back unchanged (the formula guard aside).
    report = deal_import.import_deals(data.replace(b"'=HYPERLINK", b"=HYPERLINK").replace(b"'@SUM", b"@SUM"),
                                      boss, NOW)
    assert report.errors == [] and (report.added, report.updated, report.unchanged) == (0, 0, 2)


# --- CSV import ----------------------------------------------------------------------------------------

HEADER = "account,deal name,stage,amount,created,proposal sent,meetings,closed,reason,crm id,owner email\n"


def run(text: str | bytes, user, now=NOW):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return deal_import.import_deals(data, user, now)


@pytest.fixture
def two_accounts(boss):
    harbor = make_account(boss, name="Harborview Bank", domains=["harborview.example"])
    harbor.crm_id = "ACC-1"
    korean = make_account(boss, name="삼성전자 주식회사", domains=["samsung.example"], country="KR", region="")
    db.session.commit()
    return harbor, korean


def test_a_utf8_file_adds_every_deal_matching_accounts_by_name_domain_or_crm_id(boss, two_accounts):
    harbor, korean = two_accounts
    rep = make_user("sales", email="rep@example.com")
    text = HEADER + (
        "Harborview Bank,Platform,proposal,\"48,000\",2026-09-01,2026-10-05,3,,,OPP-1,REP@example.com\n"
        "harborview.example,Pilot,closed_won,12500.00,2026/03/02,,5,2026. 5. 15.,Fast proof,OPP-2,\n"
        "ACC-1,Old,closed_lost,,03/01/2026,,0,04/15/2026,No budget,OPP-3,\n"
        "삼성전자,Fabs,qualification,,2026-10-01,,,,,,\n")
    report = run(text, boss)
    assert report.errors == [] and report.saved and (report.rows, report.added, report.updated) == (4, 4, 0)
    platform, pilot, old = (Deal.query.filter_by(crm_id=c).one() for c in ("OPP-1", "OPP-2", "OPP-3"))
    assert (platform.account_id, platform.amount, platform.meetings, platform.owner_id) == (harbor.id, 48000, 3, rep.id)
    assert (pilot.account_id, pilot.closed_on, pilot.amount, pilot.source) == (harbor.id, date(2026, 5, 15), 12500, "csv")
    assert (old.account_id, old.created_on, old.closed_on) == (harbor.id, date(2026, 3, 1), date(2026, 4, 15))
    assert Deal.query.filter_by(account_id=korean.id).one().name == "Fabs"
    assert report.warnings == ["Dates like 03/04/2026 were read as month/day/year (March 4)."]


def test_a_bom_a_semicolon_and_a_quoted_newline_in_a_reason_are_read(boss, two_accounts):
    text = ("\ufeffAccount;Deal Name;Stage;Amount;Created;Closed;Reason;CRM ID\n"
            'Harborview Bank;Pilot;Closed Lost;;2026-03-02;2026-05-15;"Chose a competitor;\nprice was 20% lower";X-1\n')
    report = run(text, boss)
    assert report.errors == [] and report.added == 1
    assert Deal.query.one().close_reason == "Chose a competitor;\nprice was 20% lower"


def test_a_cp949_file_from_korean_excel_with_korean_headers_and_names(boss, two_accounts):
    _harbor, korean = two_accounts
    text = ("회사명,딜 이름,단계,금액,생성일,종료일,사유,CRM ID\n"
            "삼성전자,반도체 분석,수주,\"1,250,000\",2026. 3. 1.,2026. 6. 30.,빠른 도입,K-1\n"
            "삼성전자,물류,실주,,2026-04-01,2026-07-01,예산 없음,K-2\n")
    report = run(text.encode("cp949"), boss)
    assert report.errors == [] and report.added == 2
    won = Deal.query.filter_by(crm_id="K-1").one()
    assert (won.account_id, won.name, won.stage, won.amount, won.close_reason) == (
        korean.id, "반도체 분석", "closed_won", 1250000, "빠른 도입")
    assert Deal.query.filter_by(crm_id="K-2").one().stage == "closed_lost"


def test_one_bad_row_imports_nothing_and_says_which_row_column_and_why(boss, two_accounts):
    text = HEADER + (
        "Harborview Bank,Good,proposal,1000,2026-09-01,,,,,G-1,\n"
        "Harborview Bank,Bad amount,proposal,12.5k,2026-09-01,,,,,G-2,\n"
        "Harborview Bank,Lost no reason,closed_lost,,2026-09-01,,,2026-09-10,,G-3,\n"
        "Harborview Bank,Early proposal,proposal,,2026-09-01,2026-08-01,,,,G-4,\n")
    report = run(text, boss)
    assert not report.saved and Deal.query.count() == 0
    assert [(e.row, e.column) for e in report.errors] == [(3, "amount"), (4, "reason"), (5, "proposal sent")]
    assert report.errors[0].message.startswith("“12.5k” is not a whole amount")
    assert report.bad_rows == 3


def test_reimporting_the_same_crm_id_updates_that_deal(boss, two_accounts):
    text = HEADER + "Harborview Bank,Platform,proposal,48000,2026-09-01,,1,,,OPP-1,\n"
    assert run(text, boss).added == 1
    again = run(text, boss)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    later = NOW + timedelta(days=1)
    changed = run(text.replace("proposal,48000", "closed_lost,48000").replace(",,1,,,", ",,4,2026-10-30,Timing,"),
                  boss, later)
    assert (changed.added, changed.updated) == (0, 1)
    deal = Deal.query.one()
    assert (deal.stage, deal.meetings, deal.closed_on, deal.close_reason, deal.updated_at) == (
        "closed_lost", 4, date(2026, 10, 30), "Timing", later)


def test_a_crm_id_twice_in_one_file_is_an_error_on_the_later_row(boss, two_accounts):
    text = HEADER + ("Harborview Bank,One,proposal,,2026-09-01,,,,,OPP-1,\n"
                     "Harborview Bank,Two,proposal,,2026-09-01,,,,,OPP-1,\n")
    report = run(text, boss)
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (3, "crm id", "CRM id “OPP-1” is already on row 2 of this file.")]
    assert Deal.query.count() == 0


def test_an_unknown_account_is_a_row_error_that_suggests_the_one_meant(boss, two_accounts):
    text = HEADER + ("Harbor,One,proposal,,2026-09-01,,,,,,\n"
                     "Nowhere Inc,Two,proposal,,2026-09-01,,,,,,\n")
    report = run(text, boss)
    assert [(e.row, e.column) for e in report.errors] == [(2, "account"), (3, "account")]
    assert "Did you mean “Harborview Bank”?" in report.errors[0].message
    assert report.errors[1].message.startswith("No account matches “Nowhere Inc”.")


def test_day_first_dates_are_recognised_for_the_whole_file(boss, two_accounts):
    text = HEADER + ("Harborview Bank,One,proposal,,25/03/2026,,,,,,\n"
                     "Harborview Bank,Two,proposal,,03/04/2026,,,,,,\n")
    report = run(text, boss)
    assert report.errors == [] and report.warnings == ["Dates like 03/04/2026 were read as day/month/year (3 April)."]
    assert sorted(d.created_on for d in Deal.query) == [date(2026, 3, 25), date(2026, 4, 3)]


def test_crm_stage_names_and_expected_close_dates_of_open_deals(boss, two_accounts):
    text = ("Account Name,Opportunity Name,Stage,Amount,Created Date,Close Date,Opportunity ID\n"
            "Harborview Bank,A,Prospecting,,2026-09-01,2026-12-31,006A\n"
            "Harborview Bank,B,Proposal/Price Quote,,2026-09-01,2026-12-31,006B\n"
            "Harborview Bank,C,Closed Won,5000,2026-09-01,2026-10-01,006C\n")
    report = run(text, boss)
    assert report.errors == []
    assert {d.crm_id: (d.stage, d.closed_on) for d in Deal.query} == {
        "006A": ("qualification", None), "006B": ("proposal", None), "006C": ("closed_won", date(2026, 10, 1))}
    assert report.warnings == ["2 open deals had a closed date or churn date; it was not kept (CRMs export the "
                               "expected close date of open deals)."]


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty."),
    (b"\xef\xbb\xbf\r\n\r\n", "The file is empty."),
    (HEADER.encode(), "The file has column names but no deals under them."),
    (b"deal name,stage,created\nX,proposal,2026-09-01\n", "The file needs a column that says which account"),
    (b"account,deal name\nHarborview Bank,X\n", "The file needs these columns too: created date, stage."),
])
def test_files_that_cannot_be_imported_say_why(data, message, boss):
    with pytest.raises(ValidationError) as caught:
        deal_import.import_deals(data, boss, NOW)
    assert caught.value.errors["file"][0].startswith(message)


def test_columns_not_imported_are_named_in_the_report(boss, two_accounts):
    report = run("account,stage,created,ammount,Next Step\nHarborview Bank,proposal,2026-09-01,5,Call\n", boss)
    assert report.saved and report.warnings == ["These columns were not imported: ammount, Next Step."]
    assert Deal.query.one().amount is None


def test_a_row_with_more_cells_than_columns_is_reported(boss, two_accounts):
    text = "account,stage,created\nHarborview Bank,proposal,2026-09-01,oops\n"
    report = run(text, boss)
    assert [(e.row, e.column) for e in report.errors] == [(2, "")] and "more cells" in report.errors[0].message


def test_only_campaign_managers_import_deals(app):
    with pytest.raises(PermissionDenied):
        deal_import.import_deals(HEADER.encode(), make_user("sales"), NOW)


def test_new_deals_from_a_file_get_the_accounts_owner_and_unknown_owners_are_warned(boss, two_accounts):
    harbor, _korean = two_accounts
    rep = make_user("sales")
    harbor.owner_id = rep.id
    db.session.commit()
    report = run(HEADER + "Harborview Bank,P,proposal,,2026-09-01,,,,,,ghost@example.com\n", boss)
    assert Deal.query.one().owner_id == rep.id
    assert report.warnings == ["“ghost@example.com” is not an active sales rep or campaign manager here: those "
                               "deals keep their owner, or get the account's owner."]


def test_the_template_file_imports_once_its_accounts_exist(boss):
    make_account(boss, name="Harborview Bank", domains=["harborview.example"])
    make_account(boss, name="Northwind Logistics", domains=["northwind.example"])
    make_user("sales", email="rep@example.com")
    from abmcontent import crm_csv

    data = b"".join(crm_csv.export_csv(deals.EXPORT_HEADERS, deal_import.sample_rows()))
    report = deal_import.import_deals(data, boss, NOW)
    assert report.errors == [] and report.added == 3


def test_import_update_and_search_work_on_sqlite_and_postgresql(any_db_app):
    boss = make_user("campaign")
    account = make_account(boss)
    text = HEADER + ("Harborview Bank,Platform,proposal,48000,2026-09-01,,1,,,OPP-1,\n"
                     "Harborview Bank,Pilot,closed_won,9000,2026-03-01,,1,2026-10-10,,OPP-2,\n")
    assert run(text, boss).added == 2
    report = run(text.replace("closed_won,9000", "closed_won,9500"), boss)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    assert Deal.query.filter_by(crm_id="OPP-2").one().amount == 9500
    page = deals.search(deals.DealFilters(q="HARBORVIEW", sort="closed"))
    assert [d.crm_id for d in page.items] == ["OPP-2", "OPP-1"]  # no closed date: last
    totals = deals.totals(deals.DealFilters(), NOW)
    assert (totals.open_amount, totals.won_amount) == (48000, 9500)
    assert deals.deals_for_account(account.id)[0].crm_id == "OPP-1"  # open first
