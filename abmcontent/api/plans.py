"""/api/v1/plans: touchpoint plans, their steps, applying them to accounts, and the accounts in them."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timezone

from flask import g
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, missing, validate

from abmcontent import plans
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, envelope_of_list, paginate, page_of
from abmcontent.errors import NotFound
from abmcontent.models import CHANNELS, MAIL_FORMATS, Plan

blp = resource("Plans", "/plans", "Touchpoint plans: ordered steps (channel, day, send window, asset, "
                                  "stakeholders), applied to accounts as touchpoints; pause, resume or "
                                  "cancel an account's plan. Everyone reads; campaign managers change.")

MAX_ID = 2**31 - 1
MAX_ACCOUNTS = 10_000
ENROLLMENT_STATUSES = ("active", "paused", "cancelled", "stopped")
ACTION_FOR = {"paused": "pause", "active": "resume", "cancelled": "cancel"}  # status asked for → domain action


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text(limit: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(max=limit), no_nul], **kwargs)


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class StartField(fields.Field):
    """An aware date-time, or a date (midnight UTC, as the Accounts page reads one), as UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        message = _("Give a date (2026-12-01) or a date and time with its zone (2026-12-01T09:00:00+09:00).")
        if not isinstance(value, str) or len(value) > 40 or "\x00" in value:
            raise ValidationError(message)
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), timezone.utc)
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError
            return moment.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise ValidationError(message) from None


class PlanStepSchema(Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True, metadata={"description": "Its place in the list, from 0."})
    channel = fields.String(required=True, metadata={"description": "One of " + ", ".join(CHANNELS) + "."})
    offset_days = fields.Integer(required=True, metadata={"description": "Days after the account's start."})
    offset_hours = fields.Integer(required=True)
    window_start = fields.String(required=True, metadata={"description": "Local time in the recipient's zone."})
    window_end = fields.String(required=True)
    asset_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "null: matching picks an asset for each stakeholder when it is sent."})
    personas = fields.List(fields.String(), required=True, metadata={"description": "Empty: every stakeholder."})
    subject = fields.String(required=True)
    skip_if_engaged = fields.Method("_skip", required=True, metadata={"type": "boolean"})
    stop_on = fields.Method("_stop_on", required=True, metadata={"type": "array", "items": {"type": "string"}})
    event_id = fields.Integer(required=True, allow_none=True)
    mail_format = fields.String(required=True)
    touchpoints = fields.Method("_touchpoints", required=True, metadata={
        "type": "object", "additionalProperties": {"type": "integer"},
        "description": "How many of its touchpoints are in each status so far."})

    def _skip(self, step) -> bool:
        return bool((step.conditions or {}).get("skip_if_engaged", False))

    def _stop_on(self, step) -> list[str]:
        return list((step.conditions or {}).get("stop_on", ()))

    def _touchpoints(self, step) -> dict[str, int]:
        cache = g.setdefault("api_step_outcomes", {})  # one grouped query per plan, not one per step
        if step.plan_id not in cache:
            cache[step.plan_id] = plans.step_outcomes(step.plan_id)
        return cache[step.plan_id].get(step.id, {})


@dataclass
class PlanRow:
    """A plan with its counts, read by the schemas like the plan itself."""

    plan: Plan
    accounts: int
    planned_touchpoints: int

    def __getattr__(self, name):
        return getattr(self.plan, name)


class PlanSummarySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    is_template = fields.Boolean(required=True)
    accounts = fields.Integer(required=True, metadata={"description": "Accounts in it now (active or paused)."})
    planned_touchpoints = fields.Integer(required=True, metadata={"description": "Touchpoints still to go out."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class PlanSchema(PlanSummarySchema):
    steps = fields.List(fields.Nested(PlanStepSchema), required=True)
    problems = fields.Method("_problems", required=True, metadata={
        "type": "array", "items": {"type": "string"},
        "description": "What must be settled before accounts can be added (empty: ready)."})

    def _problems(self, row) -> list[str]:
        return plans.plan_problems(row.plan)


class PlanStepInputSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    offset_days = fields.Integer(load_default=0, validate=validate.Range(min=0, max=365))
    offset_hours = fields.Integer(load_default=0, validate=validate.Range(min=0, max=23))
    window_start = fields.String(load_default="09:00", validate=validate.Regexp(r"^[0-2][0-9]:[0-5][0-9]$"),
                                 metadata={"description": "HH:MM in the recipient's time zone."})
    window_end = fields.String(load_default="17:00", validate=validate.Regexp(r"^[0-2][0-9]:[0-5][0-9]$"))
    asset_id = _id(load_default=None, allow_none=True, metadata={
        "description": "A published asset; null lets matching pick one per stakeholder."})
    personas = fields.List(_text(60), load_default=list, validate=validate.Length(max=20),
                           metadata={"description": "Persona keys; empty for every stakeholder."})
    subject = _text(300, load_default="", metadata={"description": "Email subject; merge fields allowed."})
    skip_if_engaged = fields.Boolean(load_default=True,
                                     metadata={"description": "Skip a stakeholder who already has the asset."})
    stop_on = fields.List(fields.String(validate=validate.OneOf(plans.STOP_EVENTS)), validate=validate.Length(max=5),
                          load_default=lambda: list(plans.STOP_EVENTS),
                          metadata={"description": "Engagement that stops the plan for the account."})
    event_id = _id(load_default=None, allow_none=True, metadata={"description": "Event steps: the event."})
    mail_format = fields.String(load_default="letter", validate=validate.OneOf(MAIL_FORMATS),
                                metadata={"description": "Direct-mail steps: letter or postcard."})


class PlanStepPatchSchema(PlanStepInputSchema):
    """The same fields, none required and no defaults: what is not sent stays as it is."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)
        for item in self.fields.values():
            item.load_default = missing  # and so documented without the defaults of a new step


class PlanInputSchema(Schema):
    name = _text(200, required=True)
    description = _text(2000, load_default="")
    steps = fields.List(fields.Nested(PlanStepInputSchema), load_default=list, validate=validate.Length(max=100))


class PlanPatchSchema(Schema):
    name = _text(200)
    description = _text(2000)


class PlanStepChangeSchema(Schema):
    step = fields.Nested(PlanStepSchema, required=True)
    scheduled = fields.Integer(required=True, metadata={
        "description": "Touchpoints added for accounts already in the plan."})
    past = fields.Integer(required=True, metadata={"description": "Not added: that moment has passed for them."})
    updated = fields.Integer(required=True, metadata={"description": "Planned touchpoints changed to match."})
    cancelled = fields.Integer(required=True, metadata={"description": "Planned touchpoints cancelled."})


class PlanStepMoveSchema(Schema):
    direction = fields.String(required=True, validate=validate.OneOf(["up", "down"]))


class PlanApplicationSchema(Schema):
    account_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=MAX_ACCOUNTS),
                              metadata={"description": "The accounts to add (at most 10,000 a call)."})
    start = StartField(allow_none=True, metadata={
        "type": "string", "example": "2026-12-01T09:00:00+09:00",
        "description": "When the plan starts for them: a date (midnight UTC) or an aware date-time; "
                       "now when left out or in the past."})


class ApplyReportSchema(Schema):
    enrolled = fields.Integer(required=True, metadata={"description": "Accounts added to the plan."})
    already = fields.Integer(required=True, metadata={"description": "Accounts that were in it already."})
    touchpoints = fields.Integer(required=True, metadata={"description": "Touchpoints scheduled."})
    no_recipient = fields.Integer(required=True, metadata={
        "description": "Steps that found no stakeholder with their persona at an account."})


class EnrollmentSchema(Schema):
    id = fields.Integer(required=True)
    plan_id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    account_name = fields.Function(lambda e: e.account.name, required=True, metadata={"type": "string"})
    status = fields.String(required=True, metadata={"description": "active, paused, cancelled or stopped."})
    reason = fields.String(required=True, metadata={"description": "Why it stopped, when it did."})
    started_at = fields.DateTime(required=True)
    created_by_id = fields.Integer(required=True, allow_none=True)


class EnrollmentArgs(PageArgs):
    status = fields.String(load_default="", validate=validate.OneOf(["", *ENROLLMENT_STATUSES]))


class EnrollmentChangeSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(list(ACTION_FOR)), metadata={
        "description": "paused (pause), active (resume) or cancelled (nothing more is sent)."})


class EnrollmentBulkChangeSchema(Schema):
    changed = fields.Integer(required=True, metadata={"description": "How many accounts changed."})


class AudienceCompanySchema(Schema):
    companyname = fields.String(required=True)
    companywebsitedomain = fields.String(required=True)
    companyemaildomain = fields.String(required=True)
    industry = fields.String(required=True)
    city = fields.String(required=True)
    state = fields.String(required=True)
    companycountry = fields.String(required=True)


def _row(plan_id: int) -> PlanRow:
    found = plans.list_plans(plan_id)
    if not found:
        raise NotFound(_("That plan does not exist."))
    return PlanRow(*found[0])


def _step(plan_id: int, step_id: int):
    step = next((s for s in plans.get_plan(plan_id).steps if s.id == step_id), None)
    if step is None:
        raise NotFound(_("That step is not in this plan."))
    return step


@blp.route("")
class PlanList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(PlanSummarySchema, "PlanPage"))
    def get(self, args):
        """List plans by name, with how many accounts are in each and touchpoints still planned."""
        page, per_page = args["page"], args["per_page"]
        rows = [PlanRow(*row) for row in plans.list_plans()]
        return envelope_of_list(rows, page, per_page)

    @blp.arguments(PlanInputSchema)
    @blp.response(201, PlanSchema)
    def post(self, data):
        """Create a plan with its steps (campaign managers)."""
        steps = [plans.StepInput(**step) for step in data["steps"]]
        plan = plans.create_plan(data["name"], data["description"], steps, auth.current_user(), _now())
        return _row(plan.id)


@blp.route(f"/<{ID}:plan_id>")
class PlanItem(MethodView):
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """One plan with its steps, what its touchpoints did so far, and what it still needs."""
        return _row(plan_id)

    @blp.arguments(PlanPatchSchema)
    @blp.response(200, PlanSchema)
    def patch(self, data, plan_id):
        """Rename a plan or change its description (campaign managers)."""
        plan = plans.get_plan(plan_id)
        plans.update_plan(plan.id, data.get("name", plan.name), data.get("description", plan.description),
                          auth.current_user(), _now())
        return _row(plan_id)


@blp.route(f"/<{ID}:plan_id>/copies")
class PlanCopies(MethodView):
    @blp.response(201, PlanSchema)
    def post(self, plan_id):
        """Copy a plan and its steps, to change without touching the accounts in the original."""
        return _row(plans.duplicate_plan(plan_id, auth.current_user(), _now()).id)


@blp.route(f"/<{ID}:plan_id>/steps")
class PlanSteps(MethodView):
    @blp.arguments(PlanStepInputSchema)
    @blp.response(201, PlanStepChangeSchema)
    def post(self, data, plan_id):
        """Add a last step (campaign managers). Accounts already in the plan get it too, from their own
        start, unless that moment has passed for them."""
        return plans.add_step(plan_id, plans.StepInput(**data), auth.current_user(), _now())


@blp.route(f"/<{ID}:plan_id>/steps/<{ID}:step_id>")
class PlanStep(MethodView):
    @blp.arguments(PlanStepPatchSchema)
    @blp.response(200, PlanStepChangeSchema)
    def patch(self, data, plan_id, step_id):
        """Change a step (campaign managers); fields not sent stay. Planned touchpoints follow; the
        channel and stakeholders of a step with touchpoints stay as they are."""
        current = asdict(plans.step_input(_step(plan_id, step_id)))
        changed = plans.StepInput(**{**current, **data})
        return plans.update_step(plan_id, step_id, changed, auth.current_user(), _now())

    @blp.response(200, PlanStepChangeSchema)
    def delete(self, plan_id, step_id):
        """Remove a step (campaign managers); what it still had planned is cancelled."""
        return plans.remove_step(plan_id, step_id, auth.current_user(), _now())


@blp.route(f"/<{ID}:plan_id>/steps/<{ID}:step_id>/moves")
class PlanStepMove(MethodView):
    @blp.arguments(PlanStepMoveSchema)
    @blp.response(200, PlanSchema)
    def post(self, data, plan_id, step_id):
        """Move a step up or down the list (its day still says when it runs)."""
        _step(plan_id, step_id)
        plans.move_step(plan_id, step_id, data["direction"], auth.current_user(), _now())
        return _row(plan_id)


@blp.route(f"/<{ID}:plan_id>/applications")
class PlanApplications(MethodView):
    @blp.arguments(PlanApplicationSchema)
    @blp.response(201, ApplyReportSchema)
    def post(self, data, plan_id):
        """Add accounts to the plan and schedule its touchpoints (campaign managers). Safe to repeat:
        accounts already in the plan are counted, never added twice."""
        return plans.apply_accounts(plan_id, data["account_ids"], data.get("start") or _now(),
                                    auth.current_user(), _now())


@blp.route(f"/<{ID}:plan_id>/enrollments")
class PlanEnrollments(MethodView):
    @blp.arguments(EnrollmentArgs, location="query")
    @blp.response(200, page_of(EnrollmentSchema, "EnrollmentPage"))
    def get(self, args, plan_id):
        """The accounts in the plan: active first, then newest first."""
        items, total = paginate(plans.enrollment_list(plan_id, args["status"]), args["page"], args["per_page"])
        return envelope(items, total, args["page"], args["per_page"])

    @blp.arguments(EnrollmentChangeSchema)
    @blp.response(200, EnrollmentBulkChangeSchema)
    def patch(self, data, plan_id):
        """Pause, resume or cancel the plan for every account in it (campaign managers)."""
        return {"changed": plans.set_plan(plan_id, ACTION_FOR[data["status"]], auth.current_user(), _now())}


@blp.route(f"/<{ID}:plan_id>/enrollments/<{ID}:enrollment_id>")
class PlanEnrollment(MethodView):
    @blp.arguments(EnrollmentChangeSchema)
    @blp.response(200, EnrollmentSchema)
    def patch(self, data, plan_id, enrollment_id):
        """Pause, resume or cancel the plan for one account (campaign managers). Paused touchpoints
        wait (and are missed if their window passes meanwhile); cancelled ones are never sent."""
        return plans.set_enrollment(enrollment_id, ACTION_FOR[data["status"]], auth.current_user(), _now(),
                                    plan_id=plan_id)


@blp.route(f"/<{ID}:plan_id>/audience")
class PlanAudience(MethodView):
    @blp.response(200, AudienceCompanySchema(many=True))
    def get(self, plan_id):
        """The plan's ad audience: the companies whose ad-audience touchpoint went out, in the fields
        ad platforms' company lists take (the same list as the CSV on the plan page)."""
        from abmcontent.channels.ad_audience import HEADERS, audience_rows

        return [dict(zip(HEADERS, row)) for row in audience_rows(plans.get_plan(plan_id).id)]

