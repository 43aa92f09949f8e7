"""Alerts to the account owner: an MQA once, a surge once a week, a senior stakeholder once a day;
machines never alert anyone; the digest goes to a real SMTP server on loopback."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from abmcontent import alerts, tracking
from abmcontent.extensions import db
from abmcontent.models import Alert, Contact
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account


def _account(owner, tier=1, **people):
    account = make_account(make_user("campaign"), name="Harborview Bank", domains=["harborview.example"])
    account.owner_id, account.tier = owner.id, tier
    for first, seniority in people.items():
        db.session.add(Contact(account=account, first_name=first, last_name="Raman", title="CFO",
                               email=f"{first}@harborview.example", seniority=seniority))
    db.session.commit()
    return account


def _did(app, kind, account, contact=None, ago=timedelta(hours=1), **fields):
    tracking.record(kind, app=app, account_id=account.id, contact_id=contact.id if contact else None,
                    occurred_at=NOW - ago, channel="web", **fields)


def test_an_engaged_tier_one_account_alerts_its_owner_once_as_mqa_and_once_as_surging(app):
    owner = make_user("sales")
    account = _account(owner)
    for _n in range(3):
        _did(app, "form_fill", account)  # 45 points today, nothing before
    tracking.flush(app)
    assert alerts.evaluate(NOW).created == 2
    assert alerts.evaluate(NOW + timedelta(minutes=1)).created == 0  # each fact told once
    said = sorted((a.kind, alerts.say(a)) for a in alerts.for_user(owner))
    assert said == [
        ("mqa", "Harborview Bank is now a marketing-qualified account (engagement 45.0, tier 1)."),
        ("surge", "Harborview Bank is surging: 45.0 points this week, 0.0 in a usual week.")]
    assert alerts.unread_count(owner) == 2
    alerts.mark_read(owner, NOW)
    assert alerts.unread_count(owner) == 0


def test_a_senior_stakeholder_engaging_is_told_once_a_day_and_machines_never_alert(app):
    owner = make_user("sales")
    account = _account(owner, tier=3, priya="c_level", tom="staff")
    priya, tom = db.session.scalars(select(Contact).order_by(Contact.id)).all()
    _did(app, "email_open", account, priya, machine="apple_privacy_proxy")
    _did(app, "page_view", account, tom)
    tracking.flush(app)
    assert alerts.evaluate(NOW).created == 0  # a proxy's open, and a staff member's view
    _did(app, "asset_open", account, priya)
    _did(app, "page_view", account, priya)
    tracking.flush(app)
    assert alerts.evaluate(NOW).created == 1
    [alert] = alerts.for_user(owner)
    assert alerts.say(alert) == "priya Raman (CFO) at Harborview Bank engaged: Asset opened."
    assert alerts.evaluate(NOW + timedelta(hours=2)).created == 0   # the same day: told once
    _did(app, "page_view", account, priya, ago=timedelta(hours=1) - timedelta(days=1))  # the next day
    tracking.flush(app)
    assert alerts.evaluate(NOW + timedelta(days=1)).created == 1  # a new day: told again


def test_an_account_without_an_owner_or_fresh_engagement_alerts_nobody(app):
    owner = make_user("sales")
    account = _account(owner)
    _did(app, "form_fill", account, ago=timedelta(days=3))
    tracking.flush(app)
    assert alerts.evaluate(NOW).accounts == 0
    account.owner_id = None
    db.session.commit()
    _did(app, "form_fill", account)
    tracking.flush(app)
    assert alerts.evaluate(NOW).created == 0


def test_the_digest_emails_each_owner_their_new_alerts_once(app, smtp_server):
    app.config["MAIL_URL"] = smtp_server.url
    app.config["BASE_URL"] = "https://abm.example"
    owner = make_user("sales", email="sam@abm.example")
    account = _account(owner)
    for _n in range(3):
        _did(app, "form_fill", account)
    tracking.flush(app)
    alerts.evaluate(NOW)
    smtp_server.rcpt_reply = "451 4.3.0 try later"
    assert alerts.send_digests(NOW) == 0  # the server refused: nothing marked, nothing lost
    smtp_server.rcpt_reply = None
    assert alerts.send_digests(NOW) == 1
    assert alerts.send_digests(NOW) == 0
    [message] = smtp_server.messages
    body = message.get_body(("plain",)).get_content()
    assert message["To"].endswith("<sam@abm.example>") and message["Subject"] == "abmcontent: 2 new alerts"
    assert "marketing-qualified" in body and "surging" in body and f"https://abm.example/accounts/{account.id}" in body
    assert all(a.emailed_at is not None for a in db.session.scalars(select(Alert)))


# --- hand-off ---------------------------------------------------------------------------------------

def test_the_owner_accepts_or_rejects_an_mqa_with_a_reason_and_marketing_sees_it(app):
    import pytest

    from abmcontent.errors import PermissionDenied, ValidationError

    owner = make_user("sales")
    account = _account(owner)
    with pytest.raises(ValidationError) as error:
        alerts.decide(account.id, "rejected", "  ", owner, NOW)
    assert "reason" in error.value.errors
    with pytest.raises(PermissionDenied):
        alerts.decide(account.id, "accepted", "", make_user("sales", email="other@abm.example"), NOW)
    with pytest.raises(PermissionDenied):
        alerts.decide(account.id, "accepted", "", make_user("marketer"), NOW)
    alerts.decide(account.id, "rejected", "No budget until FY27", owner, NOW)
    alerts.decide(account.id, "accepted", "", owner, NOW + timedelta(days=1))
    assert [(h.status, h.reason) for h in alerts.handoffs(account.id)] == [
        ("accepted", ""), ("rejected", "No budget until FY27")]
    assert alerts.acceptance(NOW - timedelta(days=90)) == {"accepted": 1, "rejected": 0}  # the newest counts
