"""ICP fit scoring: bands, weights, missing data, tiers, validation, storage round-trip, speed."""
from __future__ import annotations

import json
import random
import time
from types import SimpleNamespace

import pytest

from abmcontent import geo, icp
from abmcontent.icp import Band, Criterion, Facts, Thresholds
from abmcontent.models import Account, IcpCriterion

DESIGN_REGION = Criterion("region", 1, (
    Band(100, values=("US-NORTHEAST",)),
    Band(60, values=("US-CONTINENTAL",)),
))
DESIGN_EMPLOYEES = Criterion("employees", 1, (
    Band(100, min=10, max=50),
    Band(50, min=51, max=500),
))


def only(criterion: Criterion, thresholds: Thresholds = Thresholds(), **facts) -> icp.Part:
    """The single part of scoring `facts` against one criterion."""
    result = icp.score(Facts(**facts), [criterion], thresholds)
    assert len(result.parts) == 1
    return result.parts[0]


# ---------------------------------------------------------------- region


@pytest.mark.parametrize("country, region, expected_score, expected_band", [
    ("US", "NY", 100, "US Northeast"),
    ("US", "TX", 60, "Continental US (48 states and DC)"),
    ("US", "HI", 0, "no match"),   # Hawaii: West, but not continental
    ("US", "DE", 60, "Continental US (48 states and DC)"),  # Delaware
    ("DE", "", 0, "no match"),     # Germany
])
def test_region_example_from_design_northeast_100_continental_60_elsewhere_0(
        country, region, expected_score, expected_band):
    part = only(DESIGN_REGION, country=country, region=region)
    assert (part.score, part.band) == (expected_score, expected_band)


def test_region_kr_band_scores_korean_accounts_and_nothing_else():
    criterion = Criterion("region", 1, DESIGN_REGION.bands + (Band(90, values=("KR",)),))
    assert only(criterion, country="KR", region="Seoul").score == 90
    assert only(criterion, country="KR").band == "KR"
    assert only(criterion, country="JP").band == "no match"


def test_region_understands_country_and_state_names_as_crm_exports_spell_them():
    assert only(DESIGN_REGION, country="United States", region="New York").score == 100
    assert only(DESIGN_REGION, country="usa", region="texas").score == 60
    korea = Criterion("region", 1, (Band(90, values=("kr",)),))
    assert only(korea, country="대한민국").score == 90


def test_region_groups_eu_and_plain_states_match():
    criterion = Criterion("region", 1, (Band(80, values=("US-CA",)), Band(50, values=("EU",))))
    assert only(criterion, country="US", region="CA").score == 80
    assert only(criterion, country="US", region="OR").band == "no match"
    assert only(criterion, country="FR").score == 50
    assert only(criterion, country="GB").band == "no match"  # not in the EU


def test_us_account_without_state_is_unknown_when_the_state_would_decide():
    assert only(DESIGN_REGION, country="US", region="").band == "unknown"
    with_us = Criterion("region", 1, DESIGN_REGION.bands + (Band(30, values=("US",)),))
    assert (only(with_us, country="US").score, only(with_us, country="US").band) == (30, "US")
    assert only(DESIGN_REGION, country="", region="NY").band == "unknown"


# ---------------------------------------------------------------- numeric


@pytest.mark.parametrize("employees, expected_score, expected_band", [
    (10, 100, "10–50"), (30, 100, "10–50"), (50, 100, "10–50"),
    (51, 50, "51–500"), (500, 50, "51–500"),
    (9, 0, "no match"), (501, 0, "no match"),
])
def test_employee_bands_from_design_10_to_50_is_100_and_51_to_500_is_50(employees, expected_score,
                                                                        expected_band):
    part = only(DESIGN_EMPLOYEES, employees=employees)
    assert (part.score, part.band) == (expected_score, expected_band)


def test_open_ended_and_catch_all_numeric_bands():
    criterion = Criterion("revenue", 1, (Band(100, min=500_000_000), Band(40, max=1_000_000), Band(20)))
    assert only(criterion, revenue=10**12).band == "≥ 500,000,000"
    assert only(criterion, revenue=5).band == "≤ 1,000,000"
    assert (only(criterion, revenue=2_000_000).score, only(criterion, revenue=2_000_000).band) == (20, "any other")


def test_numbers_held_as_text_are_compared_as_numbers():
    assert only(DESIGN_EMPLOYEES, employees="1,00").score == 50  # "100" once the comma goes
    assert only(DESIGN_EMPLOYEES, employees="lots").band == "unknown"


# ---------------------------------------------------------------- weights, missing data, order


def test_total_is_the_weighted_mean_and_points_show_each_share():
    criteria = [
        Criterion("industry", 3, (Band(100, values=("financials",)),)),
        Criterion("employees", 1, DESIGN_EMPLOYEES.bands),
    ]
    facts = Facts(industry="financials", employees=100)
    result = icp.score(facts, criteria)
    assert result.total == 87.5  # (3 × 100 + 1 × 50) / 4
    assert [p.points for p in result.parts] == [75.0, 12.5]
    scaled = [Criterion(c.attribute, c.weight * 10, c.bands) for c in criteria]
    assert icp.score(facts, scaled).total == 87.5


def test_weight_zero_criterion_is_shown_but_counts_nothing_and_all_zero_scores_zero():
    criteria = [
        Criterion("industry", 1, (Band(100, values=("financials",)),)),
        Criterion("employees", 0, DESIGN_EMPLOYEES.bands),
    ]
    facts = Facts(industry="financials", employees=20)
    result = icp.score(facts, criteria)
    assert result.total == 100.0 and result.parts[1].points == 0.0 and result.parts[1].score == 100
    zero = [Criterion(c.attribute, 0, c.bands) for c in criteria]
    assert icp.score(facts, zero, Thresholds(75, 50, 25)) == icp.Score(0.0, None, icp.score(facts, zero).parts)


def test_missing_data_is_unknown_not_a_poor_fit():
    criteria, thresholds = icp.default_criteria()
    result = icp.score(Facts(industry="", revenue=None, employees=None, country="", region="",
                             technologies=[], competitor_products=None), criteria, thresholds)
    assert [p.band for p in result.parts] == ["unknown"] * 6
    assert result.total == 0.0 and result.tier is None
    present = icp.score(Facts(industry="energy_trading", revenue=1, employees=1, country="JP",
                              technologies=["Excel"], competitor_products=["BigQuery"]), criteria)
    by_attribute = {p.attribute: p.band for p in present.parts}
    assert by_attribute["industry"] == "no match"
    assert by_attribute["region"] == "no match"
    assert by_attribute["technologies"] == "no match"
    assert by_attribute["employees"] == "no match"
    assert by_attribute["revenue"] == "Under $100M"  # the catch-all band


def test_first_matching_band_wins_for_ranges_lists_and_industries():
    overlapping = Criterion("employees", 1, (Band(100, min=1, max=100), Band(10, min=50, max=500)))
    assert only(overlapping, employees=75).score == 100
    tech = Criterion("technologies", 1, (Band(100, values=("teradata",)), Band(30, values=("oracle", "teradata"))))
    assert only(tech, technologies=["Oracle", "Teradata"]).score == 100  # list order does not matter
    assert only(tech, technologies=["oracle"]).score == 30
    industry = Criterion("industry", 1, (Band(70, values=("energy",)), Band(10, values=("energy", "utilities"))))
    assert only(industry, industry="energy").score == 70


def test_technologies_match_case_insensitively_and_trimmed():
    tech = Criterion("technologies", 1, (Band(100, values=("Oracle Exadata ",)),))
    assert only(tech, technologies=["  oracle exadata"]).score == 100
    assert only(tech, technologies=["ORACLE EXADATA", "x"]).band == "Oracle Exadata "
    assert only(tech, technologies=["oracle"]).band == "no match"
    competitors = Criterion("competitor_products", 1, (Band(40, values=("snowflake",)),))
    assert only(competitors, competitor_products=["Snowflake"]).score == 40


def test_industry_matches_sector_keys_and_readable_spellings():
    industry = Criterion("industry", 1, (Band(100, values=("financials", "health_care")),))
    assert only(industry, industry="health_care").score == 100
    assert only(industry, industry="Health Care").score == 100
    assert only(industry, industry="industrials").band == "no match"
    assert only(industry, industry="health_care").band == "Financials, Health care"


# ---------------------------------------------------------------- tiers


@pytest.mark.parametrize("employees, tier", [(1, 1), (2, 2), (3, 2), (4, 3), (5, None), (6, 3)])
def test_tiers_start_at_the_exact_thresholds(employees, tier):
    criterion = Criterion("employees", 1, (
        Band(75, min=1, max=1), Band(74.9, min=2, max=2), Band(50, min=3, max=3),
        Band(25, min=4, max=4), Band(24.9, min=5, max=5), Band(49.9, min=6, max=6),
    ))
    assert icp.score(Facts(employees=employees), [criterion], Thresholds(75, 50, 25)).tier == tier


def test_tier_counts_previews_how_many_accounts_land_in_each_tier():
    criteria = [DESIGN_REGION]
    facts = [Facts(country="US", region="NY"), Facts(country="US", region="MA"), Facts(country="US", region="TX"),
             Facts(country="US", region="HI"), Facts(country="DE"), Facts()]
    assert icp.tier_counts(facts, criteria, Thresholds(90, 60, 10)) == {1: 2, 2: 1, 3: 0, None: 3}
    assert icp.tier_counts([], criteria, Thresholds()) == {1: 0, 2: 0, 3: 0, None: 0}


# ---------------------------------------------------------------- inputs and outputs


def test_scores_account_instances_and_plain_objects_alike():
    criteria, thresholds = icp.default_criteria()
    account = Account(name="Harborview Bank", industry="financials", revenue=750_000_000, employees=4_000,
                      country="US", region="MA", technologies=["Teradata"], competitor_products=["Snowflake"])
    plain = SimpleNamespace(industry="financials", revenue=750_000_000, employees=4_000, country="US",
                            region="MA", technologies=["Teradata"], competitor_products=["Snowflake"])
    from_account = icp.score(account, criteria, thresholds)
    assert from_account == icp.score(plain, criteria, thresholds)
    assert from_account.total == 97.0 and from_account.tier == 1


def test_as_json_gives_plain_dicts_for_the_breakdown_column():
    result = icp.score(Facts(employees=20), [DESIGN_EMPLOYEES])
    breakdown = result.as_json()
    assert breakdown == [{"attribute": "employees", "label": "Employees", "weight": 1.0,
                          "band": "10–50", "score": 100.0, "points": 100.0}]
    assert json.loads(json.dumps(breakdown)) == breakdown
    breakdown[0]["band"] = "changed"
    assert result.as_json()[0]["band"] == "10–50"  # fresh dicts every time


def test_generated_labels_use_readable_words():
    assert icp.criterion_label(Criterion("competitor_products", 1, ())) == "Competitor products"
    assert icp.criterion_label(Criterion("employees", 1, (), label="Company size")) == "Company size"
    assert icp.band_label("employees", Band(1, min=1000, max=20000)) == "1,000–20,000"
    assert icp.band_label("revenue", Band(1, min=500_000_000)) == "≥ 500,000,000"
    assert icp.band_label("region", Band(1, values=("US-NORTHEAST", "KR"))) == "US Northeast, KR"
    assert icp.band_label("industry", Band(1, values=("financials", "health_care"))) == "Financials, Health care"
    assert icp.band_label("industry", Band(1, label="Banks", values=("financials",))) == "Banks"


def test_criteria_from_rows_orders_by_position_and_bands_to_json_round_trips():
    criteria, _ = icp.default_criteria()
    rows = [IcpCriterion(attribute=c.attribute, label=c.label, weight=c.weight,
                         bands=bands_json, position=position)
            for position, (c, bands_json) in enumerate((c, icp.bands_to_json(c.bands)) for c in criteria)]
    assert json.loads(json.dumps([r.bands for r in rows])) == [r.bands for r in rows]
    assert icp.criteria_from_rows(reversed(rows)) == criteria
    assert rows[1].bands[0] == {"score": 100, "label": "", "values": [], "min": 1000, "max": 20000}


def test_criteria_from_rows_fills_missing_band_keys():
    row = SimpleNamespace(attribute="employees", label=None, weight="2", position=0,
                          bands=[{"score": "60", "min": "200", "max": ""}])
    assert icp.criteria_from_rows([row]) == [Criterion("employees", 2.0, (Band(60.0, min=200.0),), "")]


def test_thresholds_from_settings_and_their_defaults():
    assert icp.thresholds_from_settings(None) == Thresholds(75, 50, 25)
    settings = SimpleNamespace(tier1_min=80, tier2_min=60, tier3_min=30)
    assert icp.thresholds_from_settings(settings) == Thresholds(80.0, 60.0, 30.0)


def test_compile_refuses_an_attribute_it_cannot_score():
    with pytest.raises(ValueError, match="ceo_name"):
        icp.compile([Criterion("ceo_name", 1, (Band(100, values=("x",)),))], Thresholds())


# ---------------------------------------------------------------- validation


def test_default_criteria_are_valid_and_rank_a_perfect_fit_tier_1():
    criteria, thresholds = icp.default_criteria()
    assert icp.validate(criteria, thresholds) == {}
    assert [c.attribute for c in criteria] == list(icp.ATTRIBUTES[:1]) + ["employees", "revenue", "region",
                                                                          "technologies", "competitor_products"]
    region = criteria[3]
    assert [(b.values, b.score) for b in region.bands] == [
        (("US-NORTHEAST",), 100), (("US-CONTINENTAL",), 60), (("KR",), 90), (("EU",), 50)]
    best = Facts(industry="health_care", revenue=2_000_000_000, employees=5_000, country="US", region="NY",
                 technologies=["Netezza"], competitor_products=["Databricks"])
    assert icp.score(best, criteria, thresholds).tier == 1
    other = icp.score(Facts(industry="energy", revenue=5_000_000, employees=30_000), criteria, thresholds)
    assert {p.attribute: p.score for p in other.parts}["industry"] == 20
    assert {p.attribute: p.score for p in other.parts}["employees"] == 50


def _bad(attribute="employees", weight=1, bands=(Band(100, min=1, max=10),)) -> list[Criterion]:
    return [Criterion("industry", 1, (Band(100, values=("financials",)),)), Criterion(attribute, weight, bands)]


@pytest.mark.parametrize("criteria, words", [
    (_bad(attribute="ceo_name"), "not something we can score"),
    (_bad(weight=-1), "weight can't be negative"),
    (_bad(weight="heavy"), "weight must be a number"),
    (_bad(bands=(Band(101, min=1),)), "score must be from 0 to 100, not 101."),
    (_bad(bands=(Band(-5, min=1),)), "score must be from 0 to 100, not -5"),
    (_bad(bands=(Band(50, min=500, max=100),)), "lowest value (500) is above the highest (100)"),
    (_bad(bands=(Band(50), Band(100, min=1, max=9))), "move it to the end as the catch-all"),
    (_bad(attribute="region", bands=(Band(50, values=("US-NORTHEAST", "ATLANTIS")),)),
     '"ATLANTIS" is not a place we know'),
    (_bad(attribute="region", bands=(Band(50, values=("US-XX",)),)), '"US-XX" is not a place we know'),
    (_bad(attribute="industry", bands=(Band(50, values=("banking",)),)), '"banking" is not an industry'),
    (_bad(attribute="technologies", bands=(Band(50, values=()),)), "lists no technologies"),
    (_bad(attribute="competitor_products", bands=(Band(50, values=(" ",)),)), "lists no competitor products"),
    (_bad(attribute="region", bands=()), "Add at least one band"),
])
def test_validate_names_each_problem_on_its_criterion(criteria, words):
    errors = icp.validate(criteria, Thresholds())
    assert list(errors) == ["criterion-1"]
    assert any(words in message for message in errors["criterion-1"]), errors


def test_validate_allows_overlapping_ranges_and_a_last_catch_all():
    criteria = _bad(bands=(Band(100, min=1, max=100), Band(50, min=50, max=500), Band(10)))
    assert icp.validate(criteria, Thresholds()) == {}


def test_validate_needs_some_weight():
    criteria = [Criterion(c.attribute, 0, c.bands) for c in _bad()]
    assert "Every weight is 0" in icp.validate(criteria, Thresholds())["criteria"][0]
    assert "Add at least one criterion" in icp.validate([], Thresholds())["criteria"][0]


@pytest.mark.parametrize("thresholds, words", [
    (Thresholds(50, 75, 25), "Tier 1 needs at least the score of tier 2 (50 is below 75)."),
    (Thresholds(75, 20, 25), "Tier 2 needs at least the score of tier 3 (20 is below 25)."),
    (Thresholds(101, 50, 25), "Tier 1: the minimum score must be from 0 to 100, not 101."),
    (Thresholds(75, 50, -1), "Tier 3: the minimum score must be from 0 to 100, not -1."),
])
def test_validate_checks_thresholds_are_ordered_and_within_0_to_100(thresholds, words):
    errors = icp.validate(_bad(), thresholds)
    assert list(errors) == ["thresholds"] and errors["thresholds"] == [words]


def test_validate_accepts_equal_thresholds():
    assert icp.validate(_bad(), Thresholds(50, 50, 0)) == {}


# ---------------------------------------------------------------- speed


def test_rescoring_100k_accounts_with_the_default_criteria_is_fast():
    rng = random.Random(7)
    industries = sorted(icp.INDUSTRY_KEYS) + ["", "banking"]
    states = sorted(geo.US_STATES) + [""]
    technologies = ["Teradata", "Oracle Exadata", "PostgreSQL", "MySQL", "Netezza", "SAP HANA"]
    facts = [
        SimpleNamespace(
            industry=rng.choice(industries),
            revenue=rng.choice([None, rng.randint(1_000_000, 5_000_000_000)]),
            employees=rng.choice([None, rng.randint(5, 100_000)]),
            country=rng.choice(["US", "US", "US", "KR", "DE", "FR", "GB", "JP", ""]),
            region=rng.choice(states),
            technologies=rng.sample(technologies, k=rng.randint(0, 3)),
            competitor_products=rng.sample(["Snowflake", "Databricks", "BigQuery"], k=rng.randint(0, 2)),
        )
        for _ in range(100_000)
    ]
    criteria, thresholds = icp.default_criteria()
    started = time.perf_counter()
    scorer = icp.compile(criteria, thresholds)
    results = [scorer(f) for f in facts]
    elapsed = time.perf_counter() - started
    print(f"\nscored {len(results):,} accounts in {elapsed:.2f} s")
    assert elapsed < 5.0
    assert {r.tier for r in results} == {1, 2, 3, None}
