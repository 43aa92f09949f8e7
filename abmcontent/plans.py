"""Touchpoint plans: reusable sequences of steps, applied to accounts as touchpoints.

A step is a channel, an offset after the start, a send window in the recipient's time zone (the
stakeholder's own, else the account's, from its country and state), an asset or a slot that
matching fills at send time, the personas it targets and its conditions. Applying a plan to
accounts makes one enrollment per account and one touchpoint per step and recipient, in bulk
(a 10,000-account plan is one INSERT per few thousand rows, not one scheduler job each: see
DESIGN.md decision 1). Applying twice never doubles anything: keys are stable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import insert, select

from abmcontent import geo, taxonomy, touchpoints
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import (CHANNELS, MAIL_FORMATS, Account, Asset, Contact, Enrollment, Event, Plan, PlanStep,
                               Touchpoint, User)

CONTACT_CHANNELS = ("email", "event", "direct_mail")  # one touchpoint per stakeholder
ACCOUNT_CHANNELS = ("sales_task", "ad_audience")       # one per account
EDITORS = ("campaign",)


@dataclass
class StepInput:
    channel: str = "email"
    offset_days: int = 0
    offset_hours: int = 0
    window_start: str = "09:00"
    window_end: str = "17:00"
    asset_id: int | None = None
    personas: list[str] = field(default_factory=list)
    subject: str = ""
    skip_if_engaged: bool = True
    stop_on: list[str] = field(default_factory=lambda: ["meeting_booked", "reply"])
    event_id: int | None = None      # event steps: the event to invite to
    mail_format: str = "letter"      # direct-mail steps: letter or postcard


STOP_EVENTS = ("meeting_booked", "reply")


def _clock(value: str) -> time | None:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        return None


def validate_step(step: StepInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if step.channel not in CHANNELS:
        errors["channel"] = [_("Choose a channel from the list.")]
    if not 0 <= step.offset_days <= 365 or not 0 <= step.offset_hours <= 23:
        errors["offset_days"] = [_("Use 0–365 days and 0–23 hours after the start.")]
    start, end = _clock(step.window_start), _clock(step.window_end)
    if start is None or end is None or start >= end:
        errors["window_start"] = [_("The send window is two times like 09:00 and 17:00, the first earlier.")]
    if any(p not in taxonomy.personas() for p in step.personas):
        errors["personas"] = [_("Choose personas from the list.")]
    if any(ch in step.subject for ch in "\r\n") or len(step.subject) > 300:
        errors["subject"] = [_("Keep the subject on one line, under 300 characters.")]
    else:
        from abmcontent import merge_fields

        problems = merge_fields.validate(step.subject)
        if problems:
            errors["subject"] = [problem.message for problem in problems]
    if any(event not in STOP_EVENTS for event in step.stop_on):
        errors["stop_on"] = [_("Choose when to stop from the list.")]
    if step.mail_format not in MAIL_FORMATS:
        errors["mail_format"] = [_("Choose a letter or a postcard.")]
    if step.asset_id is not None:
        asset = db.session.get(Asset, step.asset_id)
        if asset is None or asset.status == "archived":
            errors["asset_id"] = [_("Choose a published asset, or let matching pick one.")]
    if step.event_id is not None:
        event = db.session.get(Event, step.event_id)
        if event is None or event.status == "cancelled":
            errors["event_id"] = [_("Choose an event that is still on.")]
    return errors


def create_plan(name: str, description: str, steps: list[StepInput], user: User | None, now: datetime,
                is_template: bool = True) -> Plan:
    _editor(user)
    errors = _name_errors(name)
    for position, step in enumerate(steps):
        for key, messages in validate_step(step).items():
            errors[f"steps.{position}.{key}"] = messages
    if errors:
        raise ValidationError(errors)
    plan = Plan(name=name.strip(), description=description.strip(), is_template=is_template,
                created_by_id=user.id if user else None, created_at=now, updated_at=now)
    for position, step in enumerate(steps):
        plan.steps.append(_step_row(step, position))
    db.session.add(plan)
    db.session.commit()
    return plan


def _step_row(step: StepInput, position: int) -> PlanStep:
    return PlanStep(position=position, channel=step.channel, offset_days=step.offset_days,
                    offset_hours=step.offset_hours, window_start=step.window_start, window_end=step.window_end,
                    asset_id=step.asset_id, personas=list(step.personas), subject=step.subject.strip(),
                    conditions={"skip_if_engaged": step.skip_if_engaged, "stop_on": list(step.stop_on)},
                    event_id=step.event_id if step.channel == "event" else None,
                    mail_format=step.mail_format if step.channel == "direct_mail" else "letter")


def get_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_("That plan does not exist."))
    return plan


def _editor(user: User | None) -> None:
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can build plans."))


def _name_errors(name: str) -> dict[str, list[str]]:
    if not name.strip() or len(name) > 200 or any(ch in name for ch in "\r\n"):
        return {"name": [_("Give the plan a name on one line, under 200 characters.")]}
    return {}


def update_plan(plan_id: int, name: str, description: str, user: User | None, now: datetime) -> Plan:
    _editor(user)
    plan = get_plan(plan_id)
    errors = _name_errors(name)
    if len(description) > 2000:
        errors["description"] = [_("Keep the description under 2,000 characters.")]
    if errors:
        raise ValidationError(errors)
    plan.name, plan.description, plan.updated_at = name.strip(), description.strip(), now
    db.session.commit()
    return plan


def duplicate_plan(plan_id: int, user: User | None, now: datetime) -> Plan:
    """A copy of a plan and its steps to change without touching the accounts already in the original."""
    _editor(user)
    original = get_plan(plan_id)
    name = _("Copy of %(name)s", name=original.name)[:200]
    plan = Plan(name=name, description=original.description, is_template=True,
                created_by_id=user.id if user else None, created_at=now, updated_at=now)
    for step in original.steps:
        plan.steps.append(PlanStep(
            position=step.position, channel=step.channel, offset_days=step.offset_days,
            offset_hours=step.offset_hours, window_start=step.window_start, window_end=step.window_end,
            asset_id=step.asset_id, personas=list(step.personas or ()), subject=step.subject,
            conditions=dict(step.conditions or {}), event_id=step.event_id, mail_format=step.mail_format))
    db.session.add(plan)
    db.session.commit()
    return plan


def step_input(step: PlanStep) -> StepInput:
    """A stored step as the editor's input (to fill the edit form)."""
    conditions = step.conditions or {}
    return StepInput(step.channel, step.offset_days, step.offset_hours, step.window_start, step.window_end,
                     step.asset_id, list(step.personas or ()), step.subject,
                     bool(conditions.get("skip_if_engaged", False)), list(conditions.get("stop_on", ())),
                     step.event_id, step.mail_format or "letter")


def _get_step(step_id: int, plan_id: int | None = None) -> PlanStep:
    step = db.session.get(PlanStep, step_id)
    if step is None or (plan_id is not None and step.plan_id != plan_id):
        raise NotFound(_("That step is not in this plan."))
    return step


def _active_enrollments(plan_id: int) -> list[Enrollment]:
    return list(db.session.scalars(select(Enrollment).where(
        Enrollment.plan_id == plan_id, Enrollment.status.in_(("active", "paused")))))


@dataclass
class StepChange:
    """What an edit did to the accounts already in the plan."""

    step: PlanStep
    scheduled: int = 0   # touchpoints added for accounts already in the plan
    past: int = 0        # ... not added: that day has passed for them
    updated: int = 0     # planned touchpoints changed to match
    cancelled: int = 0   # planned touchpoints cancelled (the step was removed)


def add_step(plan_id: int, data: StepInput, user: User | None, now: datetime) -> StepChange:
    """A new last step. Accounts already in the plan get it too, from their own start, unless
    that moment has passed for them (it is never sent late)."""
    _editor(user)
    plan = get_plan(plan_id)
    errors = validate_step(data)
    if errors:
        raise ValidationError(errors)
    step = _step_row(data, max((s.position for s in plan.steps), default=-1) + 1)
    plan.steps.append(step)
    plan.updated_at = now
    db.session.flush()
    change = StepChange(step)
    enrollments = _active_enrollments(plan.id)
    if enrollments:
        change.scheduled, change.past = _schedule_step(step, enrollments, now)
    db.session.commit()
    return change


def _schedule_step(step: PlanStep, enrollments: list[Enrollment], now: datetime) -> tuple[int, int]:
    account_ids = [e.account_id for e in enrollments]
    rows, _no_recipient, past = _touchpoint_rows(
        [_spec(step)], [(e.id, e.account_id, e.started_at) for e in enrollments], _places(account_ids),
        _people(account_ids) if step.channel not in ACCOUNT_CHANNELS else {}, now, skip_past=True)
    _insert(rows)
    return len(rows), past


def update_step(plan_id: int, step_id: int, data: StepInput, user: User | None, now: datetime) -> StepChange:
    """Change a step in place. Touchpoints it already planned follow: the subject, asset and event
    at once; a new day or send window moves them (except one moved by hand). The channel and
    personas of a step with touchpoints stay as they are: add a new step instead."""
    _editor(user)
    step = _get_step(step_id, plan_id)
    errors = validate_step(data)
    planned = list(db.session.scalars(select(Touchpoint).where(
        Touchpoint.step_id == step.id, Touchpoint.status == "planned")))
    has_touchpoints = db.session.scalar(select(Touchpoint.id).where(Touchpoint.step_id == step.id).limit(1))
    if has_touchpoints is not None:
        if data.channel != step.channel:
            errors.setdefault("channel", []).append(
                _("This step has touchpoints already, so its channel stays. Add a new step instead."))
        if sorted(data.personas) != sorted(step.personas or ()):
            errors.setdefault("personas", []).append(
                _("This step has touchpoints already, so its stakeholders stay. Add a new step instead."))
    if errors:
        raise ValidationError(errors)
    timing = (data.offset_days, data.offset_hours, data.window_start, data.window_end) != \
        (step.offset_days, step.offset_hours, step.window_start, step.window_end)
    row = _step_row(data, step.position)
    for name in ("channel", "offset_days", "offset_hours", "window_start", "window_end", "asset_id", "personas",
                 "subject", "conditions", "event_id", "mail_format"):
        setattr(step, name, getattr(row, name))
    step.plan.updated_at = now
    change = StepChange(step)
    if planned:
        moved_by_hand = set(db.session.scalars(select(touchpoints.TouchpointTransition.touchpoint_id).where(
            touchpoints.TouchpointTransition.touchpoint_id.in_([t.id for t in planned]),
            touchpoints.TouchpointTransition.reason.like("rescheduled%"))))
        after = timedelta(days=step.offset_days, hours=step.offset_hours)
        opens, closes = _clock(step.window_start), _clock(step.window_end)
        for touchpoint in planned:
            touchpoint.subject, touchpoint.asset_id, touchpoint.updated_at = step.subject, step.asset_id, now
            if timing and touchpoint.id not in moved_by_hand and touchpoint.enrollment is not None:
                account = touchpoint.account
                zone_name = (touchpoint.contact.timezone if touchpoint.contact is not None else "") or \
                    geo.timezone_for(account.country, account.region)
                due, window_end = send_window(touchpoint.enrollment.started_at + after, _zone(zone_name), opens,
                                              closes)
                touchpoint.due_at, touchpoint.window_end_at = max(due, now), max(window_end, now)
            change.updated += 1
    db.session.commit()
    return change


def remove_step(plan_id: int, step_id: int, user: User | None, now: datetime) -> StepChange:
    """Remove a step; what it still had planned is cancelled (sent ones stay on record)."""
    _editor(user)
    step = _get_step(step_id, plan_id)
    change = StepChange(step)
    who = user.email if user else "an operator"
    for touchpoint_id in db.session.scalars(select(Touchpoint.id).where(
            Touchpoint.step_id == step.id, Touchpoint.status == "planned")).all():
        touchpoints.cancel(touchpoint_id, f"step removed from the plan by {who}", now)
        change.cancelled += 1
    plan = step.plan
    plan.steps.remove(step)
    for position, remaining in enumerate(plan.steps):
        remaining.position = position
    plan.updated_at = now
    db.session.commit()
    return change


def move_step(plan_id: int, step_id: int, direction: str, user: User | None, now: datetime) -> Plan:
    """Move a step up or down the list (the order it is shown and read in; its day says when it runs)."""
    _editor(user)
    step = _get_step(step_id, plan_id)
    plan = step.plan
    steps = list(plan.steps)
    index = steps.index(step)
    other = index - 1 if direction == "up" else index + 1 if direction == "down" else index
    if 0 <= other < len(steps) and other != index:
        steps[index], steps[other] = steps[other], steps[index]
        for position, item in enumerate(steps):
            item.position = position
        plan.updated_at = now
        db.session.commit()
        db.session.refresh(plan)
    return plan


def plan_problems(plan: Plan) -> list[str]:
    """What must be settled before accounts are added (shown on the plan page; apply refuses)."""
    problems = []
    for number, step in enumerate(plan.steps, start=1):
        if step.channel == "event" and step.event_id is None:
            problems.append(_("Step %(number)s invites to an event: choose the event.", number=number))
    if not plan.steps:
        problems.append(_("The plan has no steps yet."))
    return problems


# --- shipped templates ---------------------------------------------------------------------------

EXEC = ["economic_buyer", "champion"]
TECH = ["technical_evaluator"]
TEMPLATES = (
    {"name": "Tier 1 executive sequence (six weeks)",
     "description": "Personal outreach to the economic buyer and champion of a tier-1 account: an insight "
                    "email, a letter from the account executive, a roundtable invitation, a case study from "
                    "their industry and a call from their owner, over six weeks.",
     "steps": [
         StepInput("email", 0, 0, personas=EXEC, subject="An idea for {{ account.name }}"),
         StepInput("sales_task", 2, 0),
         StepInput("direct_mail", 7, 0, personas=EXEC),
         StepInput("event", 14, 0, personas=EXEC, subject="Join our executive roundtable"),
         StepInput("email", 28, 0, personas=EXEC, subject="How a team like {{ account.name }} did it"),
         StepInput("sales_task", 42, 0),
     ]},
    {"name": "Technical evaluation (three weeks)",
     "description": "For accounts in consideration: architecture content for technical evaluators, a "
                    "webinar invitation and a hand-off to the solutions engineer.",
     "steps": [
         StepInput("email", 0, 0, personas=TECH, subject="A reference architecture for {{ account.name }}"),
         StepInput("event", 7, 0, personas=TECH, subject="Live: a migration, torn down"),
         StepInput("email", 14, 0, personas=TECH, subject="The checklist our engineers use"),
         StepInput("sales_task", 21, 0),
     ]},
    {"name": "Awareness for the whole buying group (four weeks)",
     "description": "One email a week to every stakeholder, each picked by matching for their role, plus "
                    "the account in the ad audience.",
     "steps": [
         StepInput("ad_audience", 0, 0),
         StepInput("email", 0, 0, subject="{{ account.name }}: what peers are doing with their data"),
         StepInput("email", 7, 0, subject="A short read for {{ contact.first_name | \"you\" }}"),
         StepInput("email", 14, 0, subject="The true cost of a legacy warehouse"),
         StepInput("email", 21, 0, subject="A case study from your industry"),
     ]},
)


def install_templates(user: User | None, now: datetime) -> int:
    """The shipped plan templates, once each (by name)."""
    added = 0
    for template in TEMPLATES:
        if db.session.scalar(select(Plan.id).where(Plan.name == template["name"])) is None:
            create_plan(template["name"], template["description"], template["steps"], None, now)
            added += 1
    return added


# --- applying a plan ---------------------------------------------------------------------------

@dataclass
class ApplyReport:
    enrolled: int = 0
    already: int = 0
    touchpoints: int = 0
    no_recipient: int = 0  # steps that found no stakeholder with the persona at an account


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def send_window(moment: datetime, zone: ZoneInfo, start: time, end: time) -> tuple[datetime, datetime]:
    """The first time at or after `moment` inside the daily window in `zone`, skipping Saturday
    and Sunday, and that day's window end; both in UTC."""
    local = moment.astimezone(zone)
    day: date = local.date()
    if local.time() > end or (local.time() == end):
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    opens = datetime.combine(day, start, zone)
    due = max(local, opens) if day == local.date() else opens
    closes = datetime.combine(day, end, zone)
    return due.astimezone(timezone.utc), closes.astimezone(timezone.utc)


def _spec(step: PlanStep) -> tuple:
    return (step.id, step.channel, timedelta(days=step.offset_days, hours=step.offset_hours),
            _clock(step.window_start), _clock(step.window_end), step.asset_id, frozenset(step.personas or ()),
            step.subject)


def _places(account_ids: list[int]) -> dict[int, str]:
    """Each account's time zone, from its country and state."""
    return {row.id: geo.timezone_for(row.country, row.region) for row in db.session.execute(
        select(Account.id, Account.country, Account.region).where(Account.id.in_(account_ids)))}


def _people(account_ids: list[int]) -> dict[int, list]:
    people: dict[int, list] = {}
    for row in db.session.execute(select(Contact.id, Contact.account_id, Contact.persona, Contact.timezone)
                                  .where(Contact.account_id.in_(account_ids)).order_by(Contact.id)):
        people.setdefault(row.account_id, []).append(row)
    return people


def _touchpoint_rows(steps: list[tuple], enrolled: list[tuple[int, int, datetime]], places: dict[int, str],
                     people: dict[int, list], now: datetime, skip_past: bool = False) -> tuple[list[dict], int, int]:
    """One row per step and recipient of each (enrollment id, account id, start): rows, steps that
    found no stakeholder, and (with skip_past) recipients whose moment has already passed."""
    zones: dict[str, ZoneInfo] = {}
    batch: list[dict] = []
    no_recipient = past = 0
    for enrollment_id, account_id, start in enrolled:
        account_zone_name = places[account_id]
        for step_id, channel, after, opens, closes, asset_id, personas, subject in steps:
            if channel in ACCOUNT_CHANNELS:
                recipients = [(None, account_zone_name)]
            else:
                recipients = [(p.id, p.timezone or account_zone_name) for p in people.get(account_id, ())
                              if not personas or p.persona in personas]
                if not recipients:
                    no_recipient += 1
            for contact_id, zone_name in recipients:
                zone = zones.get(zone_name) or zones.setdefault(zone_name, _zone(zone_name))
                due, window_end = send_window(start + after, zone, opens, closes)
                if skip_past:
                    if window_end <= now:
                        past += 1
                        continue
                    due = max(due, now)
                batch.append({
                    "enrollment_id": enrollment_id, "step_id": step_id, "account_id": account_id,
                    "contact_id": contact_id, "channel": channel, "asset_id": asset_id, "subject": subject,
                    "due_at": due, "window_end_at": window_end, "status": "planned", "attempts": 0,
                    "claimed_by": "", "provider_id": "", "last_error": "",
                    "idempotency_key": touchpoints.idempotency_key(enrollment_id, step_id, contact_id),
                    "created_at": now, "updated_at": now})
    return batch, no_recipient, past


def _insert(rows: list[dict]) -> None:
    for at in range(0, len(rows), 5000):
        db.session.execute(insert(Touchpoint), rows[at:at + 5000])


def apply(plan_id: int, account_ids: list[int], start: datetime, user: User | None, now: datetime,
          chunk: int = 500) -> ApplyReport:
    """Enroll accounts in a plan and schedule its touchpoints (bulk; safe to repeat)."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can apply plans."))
    plan = get_plan(plan_id)
    problems = plan_problems(plan)
    if problems:
        raise ValidationError({"plan": problems})
    steps = [_spec(s) for s in plan.steps]
    report = ApplyReport()
    user_id = user.id if user else None
    for offset in range(0, len(account_ids), chunk):
        ids = account_ids[offset:offset + chunk]
        enrolled = set(db.session.scalars(select(Enrollment.account_id).where(
            Enrollment.plan_id == plan.id, Enrollment.account_id.in_(ids),
            Enrollment.status.in_(("active", "paused")))))
        report.already += len(enrolled)
        fresh = [i for i in ids if i not in enrolled]
        if not fresh:
            continue
        places = _places(fresh)
        rows = db.session.execute(insert(Enrollment).returning(Enrollment.id, Enrollment.account_id), [
            {"plan_id": plan.id, "account_id": account_id, "status": "active", "reason": "",
             "started_at": start, "created_by_id": user_id} for account_id in fresh if account_id in places])
        new = [(enrollment_id, account_id, start) for enrollment_id, account_id in rows]
        report.enrolled += len(new)
        batch, no_recipient, _past = _touchpoint_rows(steps, new, places, _people(fresh), now)
        report.no_recipient += no_recipient
        _insert(batch)
        report.touchpoints += len(batch)
        db.session.commit()
    return report


def apply_accounts(plan_id: int, account_ids: list[int], start: datetime, user: User | None,
                   now: datetime) -> ApplyReport:
    """apply() for callers naming accounts by id (the API): each account once, the start never
    in the past, and ids of no account refused by name rather than skipped without a word."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can apply plans."))
    get_plan(plan_id)
    if start > now + timedelta(days=3 * 366):
        raise ValidationError({"start": [_("Choose a start within the next three years.")]})
    ids = list(dict.fromkeys(account_ids))  # apply() would enroll a repeated id twice
    known: set[int] = set()
    for offset in range(0, len(ids), 1000):
        known.update(db.session.scalars(select(Account.id).where(Account.id.in_(ids[offset:offset + 1000]))))
    missing = [account_id for account_id in ids if account_id not in known]
    if missing:
        shown = ", ".join(str(account_id) for account_id in missing[:20]) + (" …" if len(missing) > 20 else "")
        raise ValidationError({"account_ids": [_("No account has these ids: %(ids)s.", ids=shown)]})
    return apply(plan_id, ids, max(start, now), user, now)


# --- running plans -------------------------------------------------------------------------------

ENROLLMENT_ACTIONS = {"pause": ("active", "paused"), "resume": ("paused", "active"),
                      "cancel": (None, "cancelled")}


def list_plans(plan_id: int | None = None) -> list[tuple[Plan, int, int]]:
    """Plans (or the one `plan_id`) with their number of enrolled accounts and touchpoints still planned."""
    from sqlalchemy import func

    only = [Enrollment.plan_id == plan_id] if plan_id is not None else []
    enrolled = dict(db.session.execute(select(Enrollment.plan_id, func.count()).where(
        Enrollment.status.in_(("active", "paused")), *only).group_by(Enrollment.plan_id)).all())
    planned = dict(db.session.execute(select(Enrollment.plan_id, func.count(Touchpoint.id)).join(
        Touchpoint, Touchpoint.enrollment_id == Enrollment.id).where(Touchpoint.status == "planned", *only)
        .group_by(Enrollment.plan_id)).all())
    found = select(Plan).order_by(Plan.name) if plan_id is None else select(Plan).where(Plan.id == plan_id)
    return [(plan, enrolled.get(plan.id, 0), planned.get(plan.id, 0)) for plan in db.session.scalars(found)]


def enrollment_list(plan_id: int, status: str = ""):
    """The plan's accounts as a statement to page (active first, newest first); NotFound for no plan."""
    from sqlalchemy.orm import selectinload

    query = select(Enrollment).where(Enrollment.plan_id == get_plan(plan_id).id).options(
        selectinload(Enrollment.account))
    if status:
        query = query.where(Enrollment.status == status)
    return query.order_by(Enrollment.status != "active", Enrollment.id.desc())


def enrollments(plan_id: int) -> list[Enrollment]:
    return list(db.session.scalars(select(Enrollment).where(Enrollment.plan_id == plan_id)
                                   .order_by(Enrollment.status != "active", Enrollment.id.desc()).limit(500)))


def set_enrollment(enrollment_id: int, action: str, user: User | None, now: datetime,
                   plan_id: int | None = None) -> Enrollment:
    """Pause, resume or cancel one account in a plan (in `plan_id`, when given). Paused touchpoints
    wait (and are marked missed if their window passes meanwhile); cancelling cancels every one
    still planned."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can pause, resume or cancel plans."))
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or action not in ENROLLMENT_ACTIONS or plan_id not in (None, enrollment.plan_id):
        raise NotFound(_("That account is not in this plan."))
    needed, to = ENROLLMENT_ACTIONS[action]
    if (needed and enrollment.status != needed) or enrollment.status in ("cancelled", "stopped"):
        raise ValidationError({"status": [_("This account's plan is %(status)s.",
                                            status=taxonomy.label("enrollment", enrollment.status))]})
    enrollment.status = to
    if to == "cancelled":
        for touchpoint in db.session.scalars(select(Touchpoint).where(
                Touchpoint.enrollment_id == enrollment.id, Touchpoint.status.in_(("planned", "claimed")))):
            touchpoints.cancel(touchpoint.id, f"plan cancelled for the account by {user.email if user else 'an operator'}",
                               now)
    db.session.commit()
    return enrollment


def set_plan(plan_id: int, action: str, user: User | None, now: datetime) -> int:
    """Pause, resume or cancel the plan for every account in it; how many accounts changed."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can pause, resume or cancel plans."))
    if action not in ENROLLMENT_ACTIONS:
        raise NotFound(_("That account is not in this plan."))
    needed = ENROLLMENT_ACTIONS[action][0]
    ids = db.session.scalars(select(Enrollment.id).where(
        Enrollment.plan_id == get_plan(plan_id).id,
        Enrollment.status == needed if needed else Enrollment.status.in_(("active", "paused")))).all()
    for enrollment_id in ids:
        set_enrollment(enrollment_id, action, user, now)
    return len(ids)


def step_outcomes(plan_id: int) -> dict[int, dict[str, int]]:
    """Per step, how many of its touchpoints are in each status: what happened so far."""
    from sqlalchemy import func

    outcomes: dict[int, dict[str, int]] = {}
    for step_id, status, count in db.session.execute(
            select(Touchpoint.step_id, Touchpoint.status, func.count()).join(
                PlanStep, PlanStep.id == Touchpoint.step_id).where(PlanStep.plan_id == plan_id)
            .group_by(Touchpoint.step_id, Touchpoint.status)):
        outcomes.setdefault(step_id, {})[status] = count
    return outcomes


def calendar(plan_id: int, now: datetime, days: int = 56) -> list[tuple[date, dict[str, int]]]:
    """What is coming per day (UTC dates) and channel, for the plan's next `days` days."""
    until = now + timedelta(days=days)
    rows = db.session.execute(
        select(Touchpoint.due_at, Touchpoint.channel).join(Enrollment, Enrollment.id == Touchpoint.enrollment_id)
        .where(Enrollment.plan_id == plan_id, Touchpoint.status == "planned", Touchpoint.due_at < until)
        .order_by(Touchpoint.due_at).limit(200_000)).all()
    by_day: dict[date, dict[str, int]] = {}
    for due_at, channel in rows:
        day = by_day.setdefault(due_at.date(), {})
        day[channel] = day.get(channel, 0) + 1
    return sorted(by_day.items())


def account_touchpoints(account_id: int, limit: int = 100) -> list[Touchpoint]:
    return list(db.session.scalars(select(Touchpoint).where(Touchpoint.account_id == account_id)
                                   .order_by(Touchpoint.due_at.desc()).limit(limit)))


def reschedule(touchpoint_id: int, due_at: datetime, user: User | None, now: datetime) -> Touchpoint:
    """Move one planned touchpoint; its send window moves with it."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can reschedule touchpoints."))
    touchpoint = db.session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise NotFound(_("That touchpoint does not exist."))
    if touchpoint.status != "planned":
        raise ValidationError({"due_at": [_("Only a planned touchpoint can be rescheduled.")]})
    if due_at < now:
        raise ValidationError({"due_at": [_("Choose a time in the future.")]})
    length = touchpoint.window_end_at - touchpoint.due_at
    touchpoint.due_at, touchpoint.window_end_at, touchpoint.updated_at = due_at, due_at + length, now
    db.session.add(touchpoints.TouchpointTransition(
        touchpoint_id=touchpoint.id, from_status="planned", to_status="planned",
        reason=f"rescheduled to {due_at.isoformat(timespec='minutes')}", worker=user.email if user else "", at=now))
    db.session.commit()
    return touchpoint


def cancel_touchpoint(touchpoint_id: int, reason: str, user: User | None, now: datetime) -> Touchpoint:
    """Cancel one touchpoint not sent yet (campaign managers, as they reschedule); the reason and
    who cancelled stay in its history."""
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only campaign managers can cancel touchpoints."))
    touchpoint = db.session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise NotFound(_("That touchpoint does not exist."))
    if (touchpoint.status, "cancelled") not in touchpoints.TRANSITIONS:
        raise InvalidTransition(_("This touchpoint is %(status)s: only one not sent yet can be cancelled.",
                                  status=taxonomy.label("touchpoint", touchpoint.status)))
    if len(reason) > 500 or "\x00" in reason:
        raise ValidationError({"reason": [_("Keep the reason under 500 characters.")]})
    who = user.email if user else "an operator"
    touchpoints.cancel(touchpoint.id, f"cancelled by {who}" + (f": {reason.strip()}" if reason.strip() else ""), now)
    return touchpoint


# --- "My tasks" ----------------------------------------------------------------------------------

def my_tasks(user: User, include_closed: bool = False) -> list:
    from abmcontent.models import SalesTask

    query = select(SalesTask).where(SalesTask.owner_id == user.id)
    if not include_closed:
        query = query.where(SalesTask.status == "open")
    return list(db.session.scalars(query.order_by(SalesTask.status != "open", SalesTask.due_at).limit(200)))


def close_task(task_id: int, status: str, note: str, user: User, now: datetime):
    """Done or skipped, by the owner (or a campaign manager), with an optional note."""
    from abmcontent.models import SalesTask

    task = db.session.get(SalesTask, task_id)
    if task is None:
        raise NotFound(_("That task does not exist."))
    if task.owner_id != user.id and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only the account owner can close this task."))
    if status not in ("done", "skipped"):
        raise ValidationError({"status": [_("Mark the task done or skipped.")]})
    if any(ch in note for ch in "\x00") or len(note) > 1000:
        raise ValidationError({"note": [_("Keep the note under 1,000 characters.")]})
    task.status, task.note, task.done_at = status, note.strip(), now
    db.session.commit()
    return task
