"""When an account first engaged and first became an MQA: kept once, at the first time, by the
alert evaluation, with or without an owner to alert; on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from abmcontent import alerts, milestones, tracking
from abmcontent.extensions import db
from abmcontent.models import Account, AccountMilestone
from tests.conftest import NOW


def _reached() -> dict[tuple[int, str], object]:
    return {(m.account_id, m.kind): m.reached_at for m in db.session.scalars(select(AccountMilestone))}


def test_a_milestone_keeps_its_first_date(any_db_app):
    account = Account(name="Harborview Bank", domain="harborview.example")
    db.session.add(account)
    db.session.commit()
    assert milestones.reach("engaged", {account.id: NOW - timedelta(days=3)}) == 1
    assert milestones.reach("engaged", {account.id: NOW}) == 0
    assert _reached() == {(account.id, "engaged"): NOW - timedelta(days=3)}


def test_evaluation_records_engagement_and_mqa_for_accounts_without_an_owner(any_db_app):
    nobody = Account(name="Unowned Bank", domain="unowned.example", tier=1)
    quiet = Account(name="Quiet Corp", domain="quiet.example", tier=1)
    db.session.add_all([nobody, quiet])
    db.session.commit()
    first = NOW - timedelta(hours=5)
    for n in range(3):
        tracking.record("form_fill", app=any_db_app, account_id=nobody.id, occurred_at=first + timedelta(hours=n),
                        channel="web")
    tracking.record("email_open", app=any_db_app, account_id=quiet.id, occurred_at=first, channel="email",
                    machine="apple_privacy_proxy")
    tracking.flush(any_db_app)
    report = alerts.evaluate(NOW)
    assert report.created == 0  # no owner: nobody to tell
    assert _reached() == {(nobody.id, "engaged"): first, (nobody.id, "mqa"): NOW}  # 45 points, tier 1
    alerts.evaluate(NOW + timedelta(minutes=1))
    assert _reached()[(nobody.id, "mqa")] == NOW
