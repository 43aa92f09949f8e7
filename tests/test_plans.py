"""Plans: validation, the shipped templates, and applying a plan to accounts as touchpoints in each
recipient's business hours."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from abmcontent import plans
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Contact, Enrollment, Plan, Touchpoint
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account

MONDAY_8AM_UTC = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)  # NOW's Monday


def test_the_shipped_templates_install_once(app):
    assert plans.install_templates(None, NOW) == len(plans.TEMPLATES)
    assert plans.install_templates(None, NOW) == 0
    tier1 = db.session.scalar(select(Plan).where(Plan.name.like("Tier 1 executive%")))
    assert [s.channel for s in tier1.steps] == ["email", "sales_task", "direct_mail", "event", "email", "sales_task"]
    assert tier1.steps[-1].offset_days == 42


@pytest.mark.parametrize("field,value,key", [
    ("channel", "fax", "channel"), ("offset_days", 400, "offset_days"), ("window_start", "18:00", "window_start"),
    ("window_end", "25:99", "window_start"), ("personas", ["ceo"], "personas"), ("subject", "a\nb", "subject"),
])
def test_steps_are_checked(app, field, value, key):
    step = plans.StepInput()
    setattr(step, field, value)
    with pytest.raises(ValidationError) as error:
        plans.create_plan("Bad", "", [step], make_user("campaign"), NOW)
    assert f"steps.0.{key}" in error.value.errors


def test_only_campaign_managers_build_and_apply_plans(app):
    with pytest.raises(PermissionDenied):
        plans.create_plan("Mine", "", [plans.StepInput()], make_user("sales"), NOW)


@pytest.mark.parametrize("moment,zone,expected", [
    # Monday 08:00 UTC is 17:00 in Seoul: window closed → Tuesday 09:00 KST (00:00 UTC)
    (MONDAY_8AM_UTC, "Asia/Seoul", datetime(2026, 11, 3, 0, 0, tzinfo=timezone.utc)),
    # 03:00 in New York: wait for 09:00 the same day
    (MONDAY_8AM_UTC, "America/New_York", datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)),
    # inside the window in London: right away
    (MONDAY_8AM_UTC + timedelta(hours=2), "Europe/London", MONDAY_8AM_UTC + timedelta(hours=2)),
    # Saturday: the next Monday
    (datetime(2026, 11, 7, 12, 0, tzinfo=timezone.utc), "Europe/London",
     datetime(2026, 11, 9, 9, 0, tzinfo=timezone.utc)),
])
def test_touchpoints_fall_in_business_hours_in_the_recipients_zone(moment, zone, expected):
    due, closes = plans.send_window(moment, ZoneInfo(zone), time(9), time(17))
    assert due == expected
    assert closes.astimezone(ZoneInfo(zone)).time() == time(17) and closes > due


def _account_with_people(name, country="US", region="NY", **people):
    account = make_account(name=name, domains=[f"{name.lower().replace(' ', '')}.example"], country=country,
                           region=region)
    for persona, zone in people.items():
        db.session.add(Contact(account=account, first_name=persona, email=f"{persona}@{account.domain}",
                               persona=persona, timezone=zone))
    db.session.commit()
    return account


def test_applying_a_plan_schedules_each_step_for_the_right_people_once(app):
    campaign = make_user("campaign")
    plan = plans.create_plan("Two steps", "", [
        plans.StepInput("email", 0, 0, personas=["economic_buyer"], subject="Hello {{ account.name }}"),
        plans.StepInput("sales_task", 3, 0),
        plans.StepInput("email", 7, 0, personas=["procurement"]),
    ], campaign, NOW)
    a = _account_with_people("Harborview Bank", economic_buyer="", technical_evaluator="")
    b = _account_with_people("Hanbit Data", country="KR", region="", economic_buyer="Asia/Seoul")
    report = plans.apply(plan.id, [a.id, b.id], MONDAY_8AM_UTC, campaign, NOW)
    assert (report.enrolled, report.touchpoints, report.no_recipient) == (2, 4, 2)
    rows = db.session.scalars(select(Touchpoint).order_by(Touchpoint.account_id, Touchpoint.due_at)).all()
    assert [(t.account_id, t.channel, t.contact_id is not None) for t in rows] == [
        (a.id, "email", True), (a.id, "sales_task", False), (b.id, "email", True), (b.id, "sales_task", False)]
    seoul_email = rows[2]
    assert seoul_email.due_at == datetime(2026, 11, 3, 0, 0, tzinfo=timezone.utc)  # 09:00 KST
    assert rows[0].due_at == datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)       # 09:00 in New York
    assert rows[0].subject == "Hello {{ account.name }}" and all(t.status == "planned" for t in rows)
    again = plans.apply(plan.id, [a.id, b.id], MONDAY_8AM_UTC, campaign, NOW)
    assert (again.enrolled, again.already, again.touchpoints) == (0, 2, 0)
    assert db.session.scalar(select(db.func.count(Enrollment.id))) == 2


def test_a_template_applies_to_many_accounts_in_bulk(app):
    plans.install_templates(None, NOW)
    plan = db.session.scalar(select(Plan).where(Plan.name.like("Awareness%")))
    ids = [_account_with_people(f"Company {n}", economic_buyer="", champion="").id for n in range(30)]
    report = plans.apply(plan.id, ids, MONDAY_8AM_UTC, None, NOW, chunk=7)
    assert report.enrolled == 30 and report.touchpoints == 30 * (1 + 4 * 2)
