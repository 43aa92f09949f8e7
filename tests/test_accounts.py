import pytest

from abmcontent import accounts
from abmcontent.accounts import AccountFilters, Firmographics
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.models import Account, Contact
from tests.conftest import NOW, make_user


def make_account(user=None, **overrides):
    user = user or make_user("campaign")
    data = Firmographics(name=overrides.pop("name", "Harborview Bank"),
                         domains=overrides.pop("domains", ["harborview.example"]),
                         industry=overrides.pop("industry", "financials"),
                         country=overrides.pop("country", "US"), region=overrides.pop("region", "MA"),
                         employees=overrides.pop("employees", 5000),
                         revenue=overrides.pop("revenue", 900_000_000), **overrides)
    return accounts.save_firmographics(None, data, user, NOW)


def test_saving_an_account_scores_it_and_explains_the_score(app):
    account = make_account(technologies=["Teradata"])
    assert account.icp_score > 75 and account.tier == 1
    from abmcontent import scoring

    labels = [part.label for part in scoring.explain(account).parts]
    assert "Industry" in " ".join(labels)
    assert account.name_key == "harborview bank"
    assert [d.domain for d in account.domains] == ["harborview.example"]


def test_country_and_state_names_are_stored_as_codes(app):
    account = make_account(country="United States", region="Massachusetts", domains=["a.example"])
    assert (account.country, account.region) == ("US", "MA")


@pytest.mark.parametrize("changes, field", [
    ({"name": " "}, "name"), ({"industry": "crypto"}, "industry"), ({"employees": -1}, "employees"),
    ({"ip_ranges": ["10.0.0.0/33"]}, "ip_ranges"), ({"domains": ["not a domain"]}, "domains"),
    ({"journey_stage": "nowhere"}, "journey_stage"),
])
def test_bad_firmographics_are_refused_by_field(app, changes, field):
    with pytest.raises(ValidationError) as caught:
        make_account(**changes)
    assert field in caught.value.errors
    assert Account.query.count() == 0


def test_a_domain_belongs_to_one_account(app):
    user = make_user("campaign")
    make_account(user)
    with pytest.raises(ValidationError, match="already belongs"):
        make_account(user, name="Other", domains=["harborview.example"])


def test_only_campaign_managers_edit_accounts(app):
    with pytest.raises(PermissionDenied):
        make_account(make_user("marketer"))
    with pytest.raises(PermissionDenied):
        make_account(make_user("sales"))


def test_bant_and_context_are_saved_by_the_owner_or_campaign_only(app):
    owner, other = make_user("sales"), make_user("sales")
    account = make_account(owner_id=owner.id)
    accounts.update_qualification(account.id, {"budget": {"status": "confirmed", "note": "FY27"}},
                                  {"challenges": "Data migration risk"}, owner, NOW)
    assert account.bant["budget"] == {"status": "confirmed", "note": "FY27"}
    assert account.bant["need"]["status"] == "unknown"
    assert account.challenges == "Data migration risk"
    with pytest.raises(PermissionDenied):
        accounts.update_qualification(account.id, None, {"goals": "x"}, other, NOW)
    with pytest.raises(ValidationError):
        accounts.update_qualification(account.id, {"budget": {"status": "maybe"}}, None, owner, NOW)


def test_target_list_decisions_record_who_when_and_why(app):
    campaign, sales = make_user("campaign"), make_user("sales")
    account = make_account(campaign)
    accounts.decide_target(account.id, "proposed", "Great fit", campaign, NOW)
    with pytest.raises(ValidationError, match="Say why"):
        accounts.decide_target(account.id, "rejected", "", sales, NOW)
    accounts.decide_target(account.id, "rejected", "Budget frozen until 2028", sales, NOW)
    assert account.target_status == "rejected"
    assert [(d.status, d.user_id) for d in account.target_decisions] == [("rejected", sales.id), ("proposed", campaign.id)]
    with pytest.raises(PermissionDenied):
        accounts.decide_target(account.id, "agreed", "", make_user("marketer"), NOW)


def test_bulk_update_sets_tier_owner_and_stage_and_a_manual_tier_survives_rescoring(app):
    from abmcontent import scoring

    campaign, rep = make_user("campaign"), make_user("sales")
    first = make_account(campaign)
    second = make_account(campaign, name="Low fit", domains=["low.example"], industry="energy",
                          employees=20, revenue=1_000_000, country="FR", region="")
    changed = accounts.bulk_update([first.id, second.id], campaign, NOW, tier="2", owner_id=str(rep.id),
                                   stage="decision")
    assert changed == 2
    scoring.rescore_all()
    for account in (first, second):
        assert (account.tier, account.owner_id, account.journey_stage, account.tier_locked) == (2, rep.id, "decision", True)
    accounts.bulk_update([first.id], campaign, NOW, tier="auto")
    assert first.tier == 1 and not first.tier_locked
    with pytest.raises(ValidationError):
        accounts.bulk_update([first.id], campaign, NOW, tier="platinum")


def test_list_filters_sorts_and_pages(any_db_app):
    campaign = make_user("campaign")
    make_account(campaign, name="Boston Bank", domains=["bb.example"])
    make_account(campaign, name="Texas Energy", domains=["te.example"], industry="energy", region="TX")
    make_account(campaign, name="Berlin Bank", domains=["berlin.example"], country="DE", region="")
    make_account(campaign, name="Lost Retail", domains=["lr.example"], industry="consumer_discretionary", lost=True)
    names = lambda f: [a.name for a in accounts.search(f).items]  # noqa: E731
    assert names(AccountFilters(region="US-NORTHEAST", sort="name", direction="asc")) == ["Boston Bank", "Lost Retail"]
    assert names(AccountFilters(region="US-CONTINENTAL", sort="name", direction="asc")) == ["Boston Bank", "Lost Retail", "Texas Energy"]
    assert names(AccountFilters(region="EU")) == ["Berlin Bank"]
    assert names(AccountFilters(lost="1")) == ["Lost Retail"]
    assert names(AccountFilters(industry="energy")) == ["Texas Energy"]
    assert names(AccountFilters(q="BANK", sort="name", direction="desc")) == ["Boston Bank", "Berlin Bank"]
    assert names(AccountFilters(q="%")) == []
    scores = [a.icp_score for a in accounts.search(AccountFilters(sort="score")).items]
    assert scores == sorted(scores, reverse=True)
    assert accounts.search(AccountFilters(sort="name); DROP TABLE accounts; --")).total == 4
    page = accounts.search(AccountFilters(page=9), page_size=3)
    assert (page.total, page.page, len(page.items)) == (4, 2, 1)


def test_stakeholder_map_shows_missing_roles(app):
    account = make_account()
    app.extensions["sqlalchemy"].session.add(Contact(account=account, first_name="Priya", last_name="R",
                                                     email="p@harborview.example", persona="economic_buyer"))
    stakeholders = accounts.stakeholder_map(account)
    assert stakeholders.count == 1
    assert "economic_buyer" not in stakeholders.missing and "technical_evaluator" in stakeholders.missing
    assert stakeholders.benchmark == 5.4


def test_export_rows_follow_the_filters(app):
    campaign = make_user("campaign")
    make_account(campaign, name="=HYPERLINK(\"http://evil\")", domains=["x.example"])
    rows = list(accounts.export_rows(AccountFilters()))
    assert rows[0][0].startswith("=HYPERLINK")  # neutralised by crm_csv.export_csv, tested there
    assert len(rows[0]) == len(accounts.EXPORT_HEADERS)
