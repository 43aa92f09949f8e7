import pytest

from abmcontent import icp, scoring
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.models import Account, IcpCriterion
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account

REGION_ONLY = [icp.Criterion("region", 1.0, (icp.Band(100, values=("US-NORTHEAST",)),
                                              icp.Band(60, values=("US-CONTINENTAL",))))]


def test_until_saved_the_starter_icp_is_used(app):
    criteria, thresholds = scoring.load()
    assert criteria == icp.default_criteria()[0] and thresholds == icp.default_criteria()[1]


def test_saving_criteria_rescores_every_account(any_db_app):
    campaign = make_user("campaign")
    boston = make_account(campaign)
    austin = make_account(campaign, name="Austin Co", domains=["austin.example"], region="TX")
    honolulu = make_account(campaign, name="Aloha Co", domains=["aloha.example"], region="HI")
    count = scoring.save(REGION_ONLY, icp.Thresholds(90, 50, 10), campaign, NOW)
    assert count == 3
    assert IcpCriterion.query.count() == 1
    scored = {a.name: (a.icp_score, a.tier) for a in Account.query}
    assert scored == {"Harborview Bank": (100.0, 1), "Austin Co": (60.0, 2), "Aloha Co": (0.0, None)}
    assert scoring.explain(boston).parts[0].band == "US Northeast" and austin and honolulu


def test_preview_counts_tiers_without_saving(app):
    campaign = make_user("campaign")
    make_account(campaign)
    make_account(campaign, name="Austin Co", domains=["austin.example"], region="TX")
    before = [(a.icp_score, a.tier) for a in Account.query.order_by(Account.id)]
    counts = scoring.preview(REGION_ONLY, icp.Thresholds(90, 50, 10))
    assert counts[1] == 1 and counts[2] == 1
    assert [(a.icp_score, a.tier) for a in Account.query.order_by(Account.id)] == before


def test_invalid_criteria_are_refused_and_nothing_changes(app):
    campaign = make_user("campaign")
    make_account(campaign)
    bad = [icp.Criterion("region", 1.0, (icp.Band(150, values=("ATLANTIS",)),))]
    with pytest.raises(ValidationError):
        scoring.save(bad, icp.Thresholds(), campaign, NOW)
    assert IcpCriterion.query.count() == 0


def test_marketers_and_sales_cannot_change_the_icp(app):
    for role in ("marketer", "sales"):
        with pytest.raises(PermissionDenied):
            scoring.save(REGION_ONLY, icp.Thresholds(), make_user(role), NOW)


def test_cli_rescores_everything(app, runner):
    make_account()
    result = runner.invoke(args=["accounts", "score"])
    assert result.exit_code == 0 and "Scored 1 accounts" in result.output
