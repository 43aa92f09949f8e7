"""The direct-mail channel through the dispatcher: a plan step of channel "direct_mail" queues a
piece for a good address, fails with the reason for a bad one, skips a stakeholder who withdrew
consent, and has its empty asset slot filled by matching."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from abmcontent import dispatch, touchpoints
from abmcontent.channels.direct_mail import DirectMailChannel
from abmcontent.extensions import db
from abmcontent.models import Consent, DirectMailPiece, Plan, PlanStep
from tests.conftest import NOW, make_asset, make_user
from tests.test_direct_mail import make_korean_recipient, make_recipient


def direct_mail_step(asset=None, mail_format: str = "letter") -> PlanStep:
    plan = Plan(name="Executive outreach", created_at=NOW, updated_at=NOW)
    step = PlanStep(plan=plan, position=0, channel="direct_mail", mail_format=mail_format,
                    asset_id=asset.id if asset else None, conditions={})
    db.session.add_all([plan, step])
    db.session.commit()
    return step


def schedule(contact, step: PlanStep, key: str = "dm-step"):
    return touchpoints.schedule(account_id=contact.account_id, contact_id=contact.id, channel="direct_mail",
                                due_at=NOW, window_end_at=NOW + timedelta(hours=8), key=key, now=NOW,
                                step_id=step.id, asset_id=step.asset_id)


def pieces() -> list[DirectMailPiece]:
    return list(db.session.scalars(select(DirectMailPiece).order_by(DirectMailPiece.id)))


def test_a_good_address_queues_a_piece_and_the_touchpoint_is_sent(app):
    asset = make_asset(make_user(), status="published", body="Dear {{ contact.first_name }}, a plan for you.")
    touchpoint = schedule(make_recipient(), direct_mail_step(asset, "postcard"))
    assert dispatch.dispatch_once(NOW, "w1").counts == {"sent": 1}
    [piece] = pieces()
    db.session.refresh(touchpoint)
    assert touchpoint.status == "sent" and touchpoint.provider_id == f"piece-{piece.id}"
    assert (piece.status, piece.format, piece.touchpoint_id) == ("queued", "postcard", touchpoint.id)
    assert piece.body == "Dear Priya, a plan for you." and piece.postal_code == "02110"


def test_a_bad_address_fails_the_touchpoint_with_the_reason_and_queues_nothing(app):
    asset = make_asset(make_user(), status="published")
    contact = make_recipient(postal_code="2110", street="")
    touchpoint = schedule(contact, direct_mail_step(asset))
    assert dispatch.dispatch_once(NOW, "w1").counts == {"failed": 1}
    db.session.refresh(touchpoint)
    assert touchpoint.status == "failed"
    assert touchpoint.last_error == ("address: the street is missing; “2110” is not a postal code of "
                                     "United States (expected like 02110 or 02110-1234)")
    assert pieces() == []


def test_a_stakeholder_who_withdrew_direct_mail_consent_is_skipped(app):
    asset = make_asset(make_user(), status="published")
    contact = make_recipient()
    contact.consents.append(Consent(channel="direct_mail", source="form", wording="Send me mail", given_at=NOW
                                    - timedelta(days=30), withdrawn_at=NOW - timedelta(days=1)))
    contact.consents.append(Consent(channel="email", source="form", wording="Email me", given_at=NOW))
    db.session.commit()
    touchpoint = schedule(contact, direct_mail_step(asset))
    assert dispatch.dispatch_once(NOW, "w1").counts == {"skipped": 1}
    db.session.refresh(touchpoint)
    assert touchpoint.status == "skipped" and "withdrew consent to direct mail" in touchpoint.last_error
    assert pieces() == []


def test_consent_given_again_after_a_withdrawal_counts(app):
    asset = make_asset(make_user(), status="published")
    contact = make_recipient()
    contact.consents.append(Consent(channel="direct_mail", given_at=NOW - timedelta(days=30),
                                    withdrawn_at=NOW - timedelta(days=10)))
    contact.consents.append(Consent(channel="direct_mail", given_at=NOW - timedelta(days=2)))
    db.session.commit()
    schedule(contact, direct_mail_step(asset))
    assert dispatch.dispatch_once(NOW, "w1").counts == {"sent": 1}


def test_an_empty_asset_slot_is_filled_by_matching(app):
    asset = make_asset(make_user(), status="published", title="Close faster", stages=["awareness"],
                       personas=["economic_buyer"], industries=["financials"],
                       body="Hello {{ contact.first_name }} at {{ account.name }}.")
    contact = make_recipient(persona="economic_buyer")
    touchpoint = schedule(contact, direct_mail_step(None))
    assert dispatch.dispatch_once(NOW, "w1").counts == {"sent": 1}
    db.session.refresh(touchpoint)
    [piece] = pieces()
    assert touchpoint.asset_id == asset.id and piece.body == "Hello Priya at Harborview Bank."


def test_a_retried_delivery_queues_one_piece(app):
    asset = make_asset(make_user(), status="published")
    touchpoint = schedule(make_korean_recipient(), direct_mail_step(asset))
    channel = DirectMailChannel()
    first = channel.deliver(touchpoint, NOW)
    again = channel.deliver(touchpoint, NOW + timedelta(minutes=5))
    assert first.status == again.status == "sent" and first.provider_id == again.provider_id
    assert db.session.scalar(select(func.count()).select_from(DirectMailPiece)) == 1


def test_no_stakeholder_is_skipped(app):
    contact = make_recipient()
    touchpoint = touchpoints.schedule(account_id=contact.account_id, contact_id=None, channel="direct_mail",
                                      due_at=NOW, window_end_at=NOW + timedelta(hours=8), key="nobody", now=NOW)
    outcome = DirectMailChannel().deliver(touchpoint, NOW)
    assert (outcome.status, outcome.reason) == ("skipped", "no stakeholder to write to")
