"""Lookalike accounts: untargeted accounts ranked by how much they resemble the won ones, with reasons."""
from datetime import date

import pytest

from abmcontent import lookalikes
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, Deal, TargetDecision
from tests.conftest import NOW, make_user


def make_company(name: str, **fields) -> Account:
    account = Account(name=name, name_key=name.lower(), **fields)
    db.session.add(account)
    db.session.commit()
    return account


def add_deal(account: Account, stage: str = "closed_won", **fields) -> Deal:
    deal = Deal(account_id=account.id, name=f"{account.name} deal", stage=stage, created_on=date(2026, 1, 5),
                closed_on=date(2026, 6, 1) if stage.startswith("closed") else None, **fields)
    db.session.add(deal)
    db.session.commit()
    return deal


def won(name: str, **fields) -> Account:
    account = make_company(name, **fields)
    add_deal(account)
    return account


BANK = dict(industry="financials", employees=2400, revenue=900_000_000, country="US", region="MA",
            technologies=["Salesforce", "Snowflake"], competitor_products=["Vendor X"], customer_base="enterprise")


@pytest.fixture
def customers(app):
    """Three won accounts: two mid-size US banks on Salesforce and Snowflake, one large German utility."""
    return [won("Acme Bank", industry="financials", employees=1800, revenue=700_000_000, country="US", region="MA",
                technologies=["Salesforce", "Snowflake", "Tableau"], competitor_products=["Vendor X"],
                customer_base="Enterprise"),
            won("Beta Trust", industry="financials", employees=5000, revenue=1_500_000_000, country="US", region="NY",
                technologies=["Salesforce", "Snowflake"], competitor_products=[], customer_base="enterprise"),
            won("Gamma Energie", industry="utilities", employees=60_000, revenue=30_000_000_000, country="DE",
                region="BY", technologies=["SAP BW"], competitor_products=["Vendor Y"], customer_base="consumers")]


def names(suggestions) -> list[str]:
    return [s.account.name for s in suggestions]


def said(suggestion) -> list[str]:
    return [lookalikes.say(r) for r in suggestion.reasons]


def test_the_most_alike_account_ranks_first_and_the_least_alike_last(customers):
    make_company("Twin Savings", **BANK)
    make_company("Cousin Credit", industry="financials", employees=30_000, country="CA",
                 technologies=["Oracle Exadata"])
    make_company("Far Estates", industry="real_estate", employees=12, revenue=2_000_000, country="KR",
                 technologies=["Kakao Work"], customer_base="consumers")
    found = lookalikes.suggest(NOW)
    assert names(found) == ["Twin Savings", "Cousin Credit", "Far Estates"]
    assert found[0].similarity >= 80 > found[1].similarity > found[2].similarity > 0
    assert [m.name for m in found[0].resembles] == ["Acme Bank", "Beta Trust"]  # Gamma: nothing alike
    assert found[0].resembles[0].similarity >= found[0].resembles[1].similarity


def test_ranking_and_reasons_are_the_same_on_postgresql(any_db_app):
    acme = won("Acme Bank", industry="financials", employees=1800, country="US", region="MA",
               technologies=["Salesforce", "Snowflake"])
    won("Gamma Energie", industry="utilities", employees=60_000, country="DE", technologies=["SAP BW"])
    make_company("Twin Savings", **BANK)
    make_company("Far Estates", industry="real_estate", employees=12, country="US", region="CA")
    found = lookalikes.suggest(NOW)
    assert names(found) == ["Twin Savings", "Far Estates"]
    assert found[0].resembles[0].account_id == acme.id
    assert "uses Salesforce, Snowflake like Acme Bank" in said(found[0])


def test_reasons_name_the_matching_features_and_the_won_accounts(customers):
    make_company("Twin Savings", **BANK)
    [twin] = lookalikes.suggest(NOW)
    assert said(twin) == [
        "same industry (Financials) as 2 of 3 won accounts",
        "2,400 employees: within the usual range of won accounts (1,800–60,000)",
        "uses Salesforce, Snowflake like Acme Bank and Beta Trust",
        "uses competitor product Vendor X like 1 won account",
        "same state or region (Massachusetts, United States) as 1 won account",
        "revenue $900M: within the usual range of won accounts ($700M–$30B)",
        "same customer base (“enterprise”) as 2 won accounts",
    ]


def test_a_size_outside_the_usual_range_is_explained_by_the_nearest_customer(customers):
    make_company("Big Bank", industry="financials", employees=90_000, country="US")
    [big] = lookalikes.suggest(NOW)
    assert "90,000 employees: close to Gamma Energie (60,000)" in said(big)


def test_technologies_match_whatever_their_case_and_spacing(customers):
    make_company("Shouty Bank", industry="financials", technologies=["  SALESFORCE ", "snowflake", 'Odd "quoted" tool'])
    [shouty] = lookalikes.suggest(NOW)
    [uses] = [r for r in said(shouty) if r.startswith("uses SALESFORCE, snowflake like ")]
    assert "Acme Bank" in uses and "Beta Trust" in uses


@pytest.mark.parametrize("broken", [{"a": 1}, "not a list", [None, 3, ""]])
def test_odd_technology_values_count_as_unknown_not_as_an_error(customers, broken):
    make_company("Odd Bank", industry="financials", technologies=broken)
    assert names(lookalikes.suggest(NOW)) == ["Odd Bank"]


def test_targeted_dealt_and_lost_accounts_are_never_suggested(customers):
    make_company("Plain Twin", **BANK)
    for status in ("proposed", "agreed", "rejected"):
        make_company(f"Twin {status}", target_status=status, **BANK)
    add_deal(make_company("Twin in a deal", **BANK), stage="discovery")
    add_deal(make_company("Twin lost a deal", **BANK), stage="closed_lost")
    make_company("Twin marked lost", lost=True, **BANK)
    found = lookalikes.suggest(NOW)
    assert names(found) == ["Plain Twin"]
    assert not {s.account.id for s in found} & {c.id for c in customers}


def test_without_closed_won_deals_there_is_nothing_to_suggest(app):
    add_deal(make_company("Open Deal Bank", **BANK), stage="negotiation")
    add_deal(make_company("Lost Deal Bank", **BANK), stage="closed_lost")
    churned = make_company("Churned Bank", **BANK)
    add_deal(churned, churned_on=date(2026, 10, 1))
    make_company("Twin Savings", **BANK)
    assert lookalikes.won_accounts(NOW) == []
    assert lookalikes.suggest(NOW) == []


def test_a_customer_who_churns_later_still_counts_until_then(app):
    future = make_company("Still Customer", **BANK)
    add_deal(future, churned_on=date(2027, 1, 1))
    assert lookalikes.won_accounts(NOW) == [future]


def test_missing_employees_neither_crash_nor_dominate(customers):
    complete = dict(BANK, technologies=["Salesforce", "Snowflake", "Tableau"], region="MA", employees=1800,
                    revenue=700_000_000, customer_base="enterprise")
    make_company("Complete Twin", **complete)
    make_company("Twin without size", **dict(complete, employees=None, revenue=None))
    make_company("Twin ten times bigger", **dict(complete, employees=180_000, revenue=70_000_000_000))
    make_company("Name only")
    found = lookalikes.suggest(NOW)
    assert names(found) == ["Complete Twin", "Twin without size", "Twin ten times bigger"]
    assert not any(r.key.startswith("employees") for r in found[1].reasons)
    assert found[0].similarity == 100 and found[1].similarity >= 80


def test_filters_narrow_by_industry_country_and_minimum_similarity(customers):
    make_company("Twin Savings", **BANK)
    make_company("Bavarian Power", industry="utilities", employees=50_000, country="DE", region="BY")
    make_company("Far Estates", industry="real_estate", employees=12, country="KR", customer_base="consumers")
    assert names(lookalikes.suggest(NOW, industry="utilities")) == ["Bavarian Power"]
    assert names(lookalikes.suggest(NOW, country="KR")) == ["Far Estates"]
    strong = lookalikes.suggest(NOW, min_similarity=60)
    assert "Far Estates" not in names(strong) and "Twin Savings" in names(strong)
    assert all(s.similarity >= 60 for s in strong)
    assert len(lookalikes.suggest(NOW, limit=1)) == 1
    assert lookalikes.countries() == ["DE", "KR", "US"]


def test_scoring_in_blocks_gives_the_same_result_as_all_at_once(customers, monkeypatch):
    for n in range(40):
        make_company(f"Company {n}", industry=["financials", "utilities", "energy"][n % 3], employees=100 * (n + 1),
                     country=["US", "DE", "KR"][n % 3], technologies=["Salesforce", "SAP BW", "Snowflake"][: n % 4])
    whole = [(s.account.name, s.similarity) for s in lookalikes.suggest(NOW)]
    monkeypatch.setattr(lookalikes, "BLOCK_CELLS", 1)  # 64 candidates a block
    for n in range(40, 140):
        make_company(f"Company {n}", industry="energy", employees=7, country="JP")
    blocks = [(s.account.name, s.similarity) for s in lookalikes.suggest(NOW, limit=500)]
    assert [pair for pair in blocks if int(pair[0].split()[1]) < 40] == whole


def test_propose_records_proposed_decisions_quoting_the_reasons(customers):
    campaign = make_user("campaign")
    twin = make_company("Twin Savings", **BANK)
    far = make_company("Far Estates", industry="real_estate", employees=12, country="KR", customer_base="consumers")
    result = lookalikes.propose([twin.id, far.id], campaign, NOW)
    assert (result.proposed, result.skipped) == (2, 0)
    decision = db.session.query(TargetDecision).filter_by(account_id=twin.id).one()
    assert decision.status == "proposed" and decision.user_id == campaign.id and decision.at == NOW
    assert decision.comment.startswith("Lookalike of Acme Bank, Beta Trust")
    assert "same industry (Financials) as 2 of 3 won accounts" in decision.comment
    assert twin.target_status == "proposed" and far.target_status == "proposed"
    assert lookalikes.suggest(NOW) == []


def test_proposing_an_account_that_is_no_longer_a_suggestion_skips_it(customers):
    campaign = make_user("campaign")
    twin = make_company("Twin Savings", **BANK)
    agreed = make_company("Agreed Bank", target_status="agreed", **BANK)
    result = lookalikes.propose([twin.id, agreed.id, customers[0].id, 999_999], campaign, NOW)
    assert (result.proposed, result.skipped) == (1, 3)
    assert agreed.target_status == "agreed" and customers[0].target_status is None
    assert db.session.query(TargetDecision).count() == 1


def test_propose_needs_ticked_accounts(customers):
    with pytest.raises(ValidationError, match="Tick the accounts"):
        lookalikes.propose([], make_user("campaign"), NOW)


@pytest.mark.parametrize("role, allowed", [("campaign", True), ("admin", True), ("sales", False),
                                           ("marketer", False)])
def test_only_campaign_managers_and_admins_propose_lookalikes(customers, role, allowed):
    twin = make_company("Twin Savings", **BANK)
    user = make_user(role)
    if allowed:
        assert lookalikes.propose([twin.id], user, NOW).proposed == 1
    else:
        with pytest.raises(PermissionDenied):
            lookalikes.propose([twin.id], user, NOW)
        assert twin.target_status is None and db.session.query(TargetDecision).count() == 0
