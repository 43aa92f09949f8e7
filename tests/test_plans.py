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


def make_event(title="Executive roundtable", starts=None, **overrides):
    """An event row as the events module stores one (tests of plans need one to invite to)."""
    import secrets

    from abmcontent.models import Event

    starts = starts or datetime.now(timezone.utc) + timedelta(days=30)
    event = Event(slug=overrides.pop("slug", f"e-{secrets.token_hex(4)}"), uid=f"{secrets.token_hex(8)}@test",
                  title=title, starts_at=starts, ends_at=starts + timedelta(hours=2), timezone="UTC", **overrides)
    db.session.add(event)
    db.session.commit()
    return event


def with_events(plan):
    """The plan with an event on each event step (the shipped templates leave it to choose)."""
    event = make_event()
    for step in plan.steps:
        if step.channel == "event":
            step.event_id = event.id
    db.session.commit()
    return plan


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


# --- the step editor ------------------------------------------------------------------------------

def _applied_plan(campaign, *steps):
    plan = plans.create_plan("Editable", "", list(steps), campaign, NOW)
    account = _account_with_people("Harborview Bank", economic_buyer="", champion="America/Los_Angeles")
    plans.apply(plan.id, [account.id], MONDAY_8AM_UTC, campaign, NOW)
    return plan, account


def test_a_plan_is_built_step_by_step_and_reordered(app):
    campaign = make_user("campaign")
    plan = plans.create_plan("From scratch", "", [], campaign, NOW)
    assert plans.plan_problems(plan) == ["The plan has no steps yet."]
    first = plans.add_step(plan.id, plans.StepInput("email", 0, subject="Hi {{ account.name }}"), campaign, NOW).step
    second = plans.add_step(plan.id, plans.StepInput("sales_task", 2), campaign, NOW).step
    third = plans.add_step(plan.id, plans.StepInput("direct_mail", 5, mail_format="postcard"), campaign, NOW).step
    assert [s.id for s in plan.steps] == [first.id, second.id, third.id] and third.mail_format == "postcard"
    plans.move_step(plan.id, third.id, "up", campaign, NOW)
    plans.move_step(plan.id, first.id, "up", campaign, NOW)  # already first: nothing moves
    db.session.refresh(plan)
    assert [s.id for s in plan.steps] == [first.id, third.id, second.id]
    assert [s.position for s in plan.steps] == [0, 1, 2]
    plans.remove_step(plan.id, third.id, campaign, NOW)
    db.session.refresh(plan)
    assert [(s.id, s.position) for s in plan.steps] == [(first.id, 0), (second.id, 1)]


@pytest.mark.parametrize("change,key", [
    ({"subject": "Hi {{ account.secret }}"}, "subject"),
    ({"stop_on": ["visited"]}, "stop_on"),
    ({"mail_format": "billboard"}, "mail_format"),
    ({"asset_id": 999}, "asset_id"),
    ({"event_id": 999}, "event_id"),
])
def test_a_bad_step_is_refused_with_the_field_named(app, change, key):
    campaign = make_user("campaign")
    plan = plans.create_plan("Plan", "", [], campaign, NOW)
    with pytest.raises(ValidationError) as error:
        plans.add_step(plan.id, plans.StepInput(**change), campaign, NOW)
    assert key in error.value.errors
    assert plan.steps == []


def test_an_event_step_without_an_event_blocks_adding_accounts(app):
    campaign = make_user("campaign")
    plan = plans.create_plan("Invite", "", [plans.StepInput("event", 3)], campaign, NOW)
    account = _account_with_people("Harborview Bank", economic_buyer="")
    with pytest.raises(ValidationError) as error:
        plans.apply(plan.id, [account.id], MONDAY_8AM_UTC, campaign, NOW)
    assert error.value.errors["plan"] == ["Step 1 invites to an event: choose the event."]
    event = make_event()
    plans.update_step(plan.id, plan.steps[0].id, plans.StepInput("event", 3, event_id=event.id), campaign, NOW)
    assert plans.apply(plan.id, [account.id], MONDAY_8AM_UTC, campaign, NOW).touchpoints == 1


def test_editing_a_step_updates_and_moves_what_it_still_has_planned(app):
    campaign = make_user("campaign")
    plan, account = _applied_plan(campaign, plans.StepInput("email", 7, subject="Old subject"))
    step = plan.steps[0]
    rows = db.session.scalars(select(Touchpoint).order_by(Touchpoint.contact_id)).all()
    before = {t.id: t.due_at for t in rows}
    moved_by_hand = rows[1]
    plans.reschedule(moved_by_hand.id, NOW + timedelta(days=20), campaign, NOW)
    change = plans.update_step(plan.id, step.id, plans.StepInput("email", 9, subject="New subject"), campaign, NOW)
    assert change.updated == 2
    db.session.expire_all()
    rows = db.session.scalars(select(Touchpoint).order_by(Touchpoint.contact_id)).all()
    assert {t.subject for t in rows} == {"New subject"}
    assert rows[0].due_at == before[rows[0].id] + timedelta(days=2)        # two days later, same hour
    assert rows[1].due_at == NOW + timedelta(days=20)                        # moved by hand: left alone


def test_a_step_with_touchpoints_keeps_its_channel_and_stakeholders(app):
    campaign = make_user("campaign")
    plan, _account = _applied_plan(campaign, plans.StepInput("email", 7, subject="Hello"))
    with pytest.raises(ValidationError) as error:
        plans.update_step(plan.id, plan.steps[0].id, plans.StepInput("sales_task", 7, personas=["champion"]),
                          campaign, NOW)
    assert set(error.value.errors) == {"channel", "personas"}


def test_a_new_step_reaches_accounts_already_in_the_plan_unless_its_day_passed(app):
    campaign = make_user("campaign")
    plan, account = _applied_plan(campaign, plans.StepInput("email", 0, subject="First"))
    later = MONDAY_8AM_UTC + timedelta(days=10)
    change = plans.add_step(plan.id, plans.StepInput("sales_task", 14), campaign, later)
    assert (change.scheduled, change.past) == (1, 0)
    change = plans.add_step(plan.id, plans.StepInput("email", 2, subject="Too late"), campaign, later)
    assert (change.scheduled, change.past) == (0, 2)
    assert db.session.scalar(select(db.func.count(Touchpoint.id))) == 2 + 1


def test_removing_a_step_cancels_what_it_still_had_planned(app):
    campaign = make_user("campaign")
    plan, _account = _applied_plan(campaign, plans.StepInput("email", 0, subject="One"),
                                   plans.StepInput("email", 7, subject="Two"))
    change = plans.remove_step(plan.id, plan.steps[1].id, campaign, NOW)
    assert change.cancelled == 2
    statuses = db.session.execute(select(Touchpoint.subject, Touchpoint.status).order_by(Touchpoint.id)).all()
    assert sorted(set(statuses)) == [("One", "planned"), ("Two", "cancelled")]


def test_a_duplicate_copies_the_steps_not_the_accounts(app):
    campaign = make_user("campaign")
    plan, _account = _applied_plan(campaign, plans.StepInput("email", 0, subject="One", personas=["champion"]),
                                   plans.StepInput("direct_mail", 7, mail_format="postcard"))
    copy = plans.duplicate_plan(plan.id, campaign, NOW)
    assert copy.name == "Copy of Editable" and copy.id != plan.id
    assert [(s.channel, s.subject, s.personas, s.mail_format) for s in copy.steps] == [
        ("email", "One", ["champion"], "letter"), ("direct_mail", "", [], "postcard")]
    assert plans.enrollments(copy.id) == []


def test_only_campaign_managers_edit_steps(app):
    plan = plans.create_plan("Plan", "", [plans.StepInput()], None, NOW)
    sales = make_user("sales")
    for call in (lambda: plans.add_step(plan.id, plans.StepInput(), sales, NOW),
                 lambda: plans.update_step(plan.id, plan.steps[0].id, plans.StepInput(), sales, NOW),
                 lambda: plans.remove_step(plan.id, plan.steps[0].id, sales, NOW),
                 lambda: plans.move_step(plan.id, plan.steps[0].id, "down", sales, NOW),
                 lambda: plans.update_plan(plan.id, "New", "", sales, NOW)):
        with pytest.raises(PermissionDenied):
            call()
