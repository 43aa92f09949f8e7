"""Deal pages: the pipeline list, the account's deals card, the deal form, closing, churn, the
CSV import and export, marketing's view on the hand-off page, and who may do what."""
from __future__ import annotations

from datetime import date

import pytest

from abmcontent import deals
from abmcontent.extensions import db
from abmcontent.models import Deal
from tests.conftest import NOW, csrf_token_from, login, make_user
from tests.test_accounts import make_account


def form(**changes) -> dict:
    values = {"name": "Data platform 2027", "stage": "proposal", "amount": "48,000", "created_on": "2026-09-01",
              "proposal_sent_on": "", "meetings": "2", "closed_on": "", "close_reason": "", "churned_on": "",
              "owner_id": "", "crm_id": ""}
    values.update(changes)
    return values


def add_deal(account, user, **changes) -> Deal:
    values = dict(name="Data platform 2027", stage="proposal", amount="48,000", created_on="2026-09-01")
    values.update(changes)
    return deals.create_deal(account.id, deals.DealInput(**values), user, NOW)


@pytest.fixture
def boss(app):
    return make_user("campaign")


@pytest.fixture
def account(boss):
    return make_account(boss)


def test_the_empty_list_says_how_to_get_deals(client, boss):
    login(client, boss)
    page = client.get("/deals").text
    assert "No deals yet" in page and "Add a deal from an account’s page" in page
    assert 'href="/deals/import"' in page and ">Deals</a>" in page  # in the main navigation


def test_the_list_shows_deals_totals_and_filters(client, boss, account):
    login(client, boss)
    add_deal(account, boss, name="Open platform")
    won = add_deal(account, boss, name="Won pilot", amount="7,000")
    deals.close_deal(won.id, True, "", "", "2026-10-15", boss, NOW)
    lost = add_deal(account, boss, name="Lost rollout")
    deals.close_deal(lost.id, False, "Chose a competitor on price", "", "2026-10-20", boss, NOW)
    page = client.get("/deals").text
    assert "Open platform" in page and "Won pilot" in page and "Chose a competitor on price" in page
    assert "48,000" in page and "Open pipeline: 1 deal" in page and "7,000" in page
    filtered = client.get("/deals?stage=closed_lost").text
    assert "Lost rollout" in filtered and "Open platform" not in filtered
    fragment = client.get("/deals?q=nothing", headers={"HX-Request": "true"})
    assert "No deals match these filters" in fragment.text and "<html" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_a_rep_adds_a_deal_from_their_account_page(client, boss):
    rep = make_user("sales")
    account = make_account(boss, owner_id=rep.id)
    login(client, rep)
    card = client.get(f"/accounts/{account.id}").text
    assert 'id="deals"' in card and "No deals with this account yet" in card
    assert f'href="/deals/new?account_id={account.id}"' in card
    new_page = client.get(f"/deals/new?account_id={account.id}").text
    from datetime import datetime, timezone

    assert f'name="created_on" type="date" value="{datetime.now(timezone.utc).date().isoformat()}"' in new_page
    assert f'<option value="{rep.id}" selected>' in new_page  # the rep owns what they add
    response = client.post("/deals/new", data={**form(owner_id=str(rep.id)), "account_id": str(account.id)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/accounts/{account.id}#deals")
    deal = Deal.query.one()
    assert (deal.account_id, deal.amount, deal.meetings, deal.owner_id) == (account.id, 48000, 2, rep.id)
    card = client.get(f"/accounts/{account.id}").text
    assert "Data platform 2027" in card and "48,000" in card and "Proposal" in card


def test_a_bad_deal_comes_back_with_what_was_typed_and_why(client, boss, account):
    login(client, boss)
    response = client.post("/deals/new", data={**form(name="Platform <b>", amount="12.5k", stage="closed_lost",
                                                     closed_on="2026-10-01"), "account_id": str(account.id)})
    assert response.status_code == 422
    page = response.text
    assert 'value="Platform &lt;b&gt;"' in page and 'value="12.5k"' in page
    assert "“12.5k” is not a whole amount in dollars." in page and "Say why the deal was lost" in page
    assert 'aria-invalid="true" aria-describedby="amount-errors"' in page
    assert Deal.query.count() == 0


def test_a_deal_is_added_by_typing_the_accounts_name(client, boss, account):
    login(client, boss)
    response = client.post("/deals/new", data={**form(), "account": "harborview.example"})
    assert response.status_code == 303 and Deal.query.one().account_id == account.id
    missing = client.post("/deals/new", data={**form(), "account": "Nowhere Inc"})
    assert missing.status_code == 422 and "No account matches “Nowhere Inc”" in missing.text


def test_editing_a_deal_saves_and_reopening_clears_its_close(client, boss, account):
    login(client, boss)
    deal = add_deal(account, boss)
    deals.close_deal(deal.id, False, "No budget", "", "2026-10-01", boss, NOW)
    response = client.post(f"/deals/{deal.id}", data=form(stage="negotiation", closed_on="2026-10-01",
                                                          close_reason="No budget", meetings="4"))
    assert response.status_code == 303
    db.session.refresh(deal)
    assert (deal.stage, deal.closed_on, deal.close_reason, deal.meetings) == ("negotiation", None, "", 4)
    bad = client.post(f"/deals/{deal.id}", data=form(proposal_sent_on="2026-08-01"))
    assert bad.status_code == 422 and "The proposal can&#39;t be sent before the deal was created" in bad.text


def test_closing_lost_without_a_reason_is_refused_and_with_one_recorded(client, boss, account):
    login(client, boss)
    deal = add_deal(account, boss)
    refused = client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "close_reason": " ",
                                                           "closed_on": "2026-10-01"})
    assert refused.status_code == 422 and "Say why the deal was lost" in refused.text
    db.session.refresh(deal)
    assert deal.stage == "proposal" and deal.closed_on is None
    done = client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "close_reason": "Chose a competitor",
                                                        "closed_on": "2026-10-01"})
    assert done.status_code == 303
    db.session.refresh(deal)
    assert (deal.stage, deal.closed_on, deal.close_reason) == ("closed_lost", date(2026, 10, 1), "Chose a competitor")


def test_closing_won_then_recording_churn(client, boss, account):
    login(client, boss)
    deal = add_deal(account, boss)
    assert client.post(f"/deals/{deal.id}/close", data={"outcome": "won", "closed_on": "2026-10-01",
                                                        "amount": "50,000"}).status_code == 303
    page = client.get(f"/deals/{deal.id}").text
    assert "Closed won" in page and "Record churn" in page
    early = client.post(f"/deals/{deal.id}/churn", data={"churned_on": "2026-09-01"})
    assert early.status_code == 422 and "can&#39;t leave before the deal was won" in early.text
    assert client.post(f"/deals/{deal.id}/churn", data={"churned_on": "2026-10-20"}).status_code == 303
    db.session.refresh(deal)
    assert (deal.amount, deal.churned_on) == (50000, date(2026, 10, 20))


def test_a_marketer_reads_deals_but_cannot_change_them(client, boss, account):
    deal = add_deal(account, boss)
    login(client, make_user("marketer"))
    page = client.get(f"/deals/{deal.id}").text
    assert "Data platform 2027" in page and 'name="name"' not in page and "Close this deal" not in page
    assert "Add deal" not in client.get(f"/accounts/{account.id}").text
    assert client.get(f"/deals/new?account_id={account.id}").status_code == 403
    assert client.post(f"/deals/{deal.id}", data=form(name="Renamed")).status_code == 403
    assert client.post(f"/deals/{deal.id}/close", data={"outcome": "won"}).status_code == 403
    assert client.post(f"/deals/{deal.id}/delete").status_code == 403
    assert client.get("/deals/import").status_code == 403
    db.session.refresh(deal)
    assert deal.name == "Data platform 2027" and deal.stage == "proposal"


def test_a_rep_cannot_touch_a_deal_on_another_reps_account(client, boss):
    rep, other = make_user("sales"), make_user("sales")
    theirs = make_account(boss, owner_id=other.id)
    deal = add_deal(theirs, boss, owner_id=str(other.id))
    login(client, rep)
    assert client.get(f"/deals/new?account_id={theirs.id}").status_code == 403
    assert client.post("/deals/new", data={**form(), "account_id": str(theirs.id)}).status_code == 403
    assert client.post(f"/deals/{deal.id}", data=form(name="Mine now")).status_code == 403
    assert client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "close_reason": "x"}).status_code == 403
    db.session.refresh(deal)
    assert (deal.name, deal.stage, Deal.query.count()) == ("Data platform 2027", "proposal", 1)


def test_a_campaign_manager_deletes_a_deal_entered_by_mistake(client, boss, account):
    login(client, boss)
    deal = add_deal(account, boss)
    response = client.post(f"/deals/{deal.id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/accounts/{account.id}#deals")
    assert Deal.query.count() == 0


def test_the_import_page_offers_a_template_and_reports_bad_rows(client, boss, account):
    login(client, boss)
    page = client.get("/deals/import").text
    assert 'href="/deals/import/sample.csv"' in page
    sample = client.get("/deals/import/sample.csv")
    assert sample.headers["Content-Disposition"] == 'attachment; filename="deals-template.csv"'
    assert sample.data.startswith(b"\xef\xbb\xbfaccount,account domain,deal name,stage")
    bad = ("account,stage,amount,created,crm id\n"
           "Harborview Bank,proposal,1000,2026-09-01,A\n"
           "Harborview Bank,proposal,12.5k,2026-09-01,B\n"
           "<script>alert(1)</script>,proposal,,2026-09-01,C\n")
    import io

    response = client.post("/deals/import", data={"file": (io.BytesIO(bad.encode()), "deals.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Nothing was imported: 2 of 3 rows have problems." in response.text
    assert "“12.5k” is not a whole amount" in response.text and "<script>alert(1)" not in response.text
    assert Deal.query.count() == 0
    good = bad.replace("12.5k", "12500").replace("<script>alert(1)</script>", "harborview.example")
    saved = client.post("/deals/import", data={"file": (io.BytesIO(good.encode()), "deals.csv")},
                        content_type="multipart/form-data")
    assert saved.status_code == 303 and Deal.query.count() == 3
    assert "Import finished: 3 deals added, 0 updated, 0 unchanged." in client.get("/deals").text
    empty = client.post("/deals/import", data={"file": (io.BytesIO(b""), "empty.csv")},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "The file is empty." in empty.text


def test_the_export_is_an_attachment_with_formulas_neutralised(client, boss, account):
    login(client, boss)
    add_deal(account, boss, name="=cmd|' /C calc'!A0")
    response = client.get("/deals/export.csv?stage=proposal")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="deals-')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.data.decode("utf-8-sig")
    assert "'=cmd|" in text and "\n=cmd" not in text and ",=cmd" not in text


def test_marketing_sees_deals_won_and_lost_with_reasons_on_the_handoff_page(client, boss, account):
    won, lost = add_deal(account, boss, name="Won pilot"), add_deal(account, boss, name="Lost rollout")
    deals.close_deal(won.id, True, "Champion in finance", "", NOW.date().isoformat(), boss, NOW)
    deals.close_deal(lost.id, False, "Chose a competitor", "", NOW.date().isoformat(), boss, NOW)
    login(client, make_user("marketer"))
    page = client.get("/engagement/handoffs").text
    assert "Deals won and lost" in page and "In the last 90 days: 1 won (48,000 USD), 1 lost." in page
    assert "Champion in finance" in page and "Chose a competitor" in page and "Lost rollout" in page


@pytest.mark.csrf
def test_deal_forms_need_the_csrf_token(client, boss, account):
    login(client, boss)
    deal = add_deal(account, boss)
    refused = client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "close_reason": "No budget"})
    assert refused.status_code == 400 and Deal.query.one().stage == "proposal"
    token = csrf_token_from(client.get(f"/deals/{deal.id}").text)
    done = client.post(f"/deals/{deal.id}/close", data={"outcome": "lost", "close_reason": "No budget",
                                                        "csrf_token": token})
    assert done.status_code == 303 and Deal.query.one().stage == "closed_lost"


def test_editing_keeps_an_owner_who_has_since_left(client, boss, account):
    rep = make_user("sales")
    deal = add_deal(account, boss, owner_id=str(rep.id))
    rep.active = False
    db.session.commit()
    login(client, boss)
    page = client.get(f"/deals/{deal.id}").text
    assert f'<option value="{rep.id}" selected>' in page
    assert client.post(f"/deals/{deal.id}", data=form(name="Renamed", owner_id=str(rep.id))).status_code == 303
    db.session.refresh(deal)
    assert (deal.name, deal.owner_id) == ("Renamed", rep.id)
