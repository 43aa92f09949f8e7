import pytest

from abmcontent import contacts
from abmcontent.contacts import StakeholderInput
from abmcontent.errors import PermissionDenied, ValidationError
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account


def test_a_stakeholder_is_added_with_consent_and_its_wording(app):
    campaign = make_user("campaign")
    account = make_account(campaign)
    contact = contacts.add_stakeholder(account.id, StakeholderInput(
        first_name="Tom", last_name="Becker", email="Tom@Harborview.example", title="Head of Data",
        persona="technical_evaluator", seniority="director", buying_authority="influencer",
        timezone="America/New_York", email_consent=True, consent_source="Data Summit 2026 booth"), campaign, NOW)
    assert contact.email == "tom@harborview.example" and contact.account_id == account.id
    consent = contact.consents[0]
    assert consent.channel == "email" and consent.given_at == NOW and "unsubscribe" in consent.wording
    assert consent.source == "Data Summit 2026 booth"


@pytest.mark.parametrize("changes, field", [
    ({"email": "bob@"}, "email"), ({"first_name": "", "last_name": ""}, "first_name"),
    ({"title": "CFO\r\nBcc: x@y.example"}, "title"), ({"persona": "boss"}, "persona"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"email_consent": True}, "consent_source"),
    ({"seniority": "emperor"}, "seniority"),
])
def test_bad_stakeholder_details_are_refused(app, changes, field):
    campaign = make_user("campaign")
    account = make_account(campaign)
    data = StakeholderInput(first_name="Ann", email="ann@harborview.example")
    for name, value in changes.items():
        setattr(data, name, value)
    with pytest.raises(ValidationError) as caught:
        contacts.add_stakeholder(account.id, data, campaign, NOW)
    assert field in caught.value.errors


def test_the_same_email_is_not_added_twice_and_marketers_cannot_add(app):
    campaign = make_user("campaign")
    account = make_account(campaign)
    contacts.add_stakeholder(account.id, StakeholderInput(first_name="A", email="a@x.example"), campaign, NOW)
    with pytest.raises(ValidationError, match="already exists"):
        contacts.add_stakeholder(account.id, StakeholderInput(first_name="B", email="A@x.example"), campaign, NOW)
    with pytest.raises(PermissionDenied):
        contacts.add_stakeholder(account.id, StakeholderInput(first_name="C", email="c@x.example"),
                                 make_user("marketer"), NOW)
