"""/api/v1/touchpoints: what plans scheduled, per account and stakeholder, with each one's history."""
from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, post_load, validate

from abmcontent import plans, touchpoints
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, page_of, paginate
from abmcontent.models import CHANNELS, TOUCHPOINT_STATUSES

blp = resource("Touchpoints", "/touchpoints", "The touchpoints plans scheduled (email, event invitation, direct "
                                              "mail, sales task, ad audience): when each is due, what became of "
                                              "it and why. Everyone reads; campaign managers reschedule and cancel.")

MAX_ID = 2**31 - 1
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(3000, 1, 1, tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _storable(value: datetime) -> None:
    """A time we can store and compute with: in UTC between 1970 and 3000."""
    try:
        inside = EARLIEST <= value.astimezone(timezone.utc) < LATEST
    except (OverflowError, ValueError):
        inside = False
    if not inside:
        raise ValidationError(_("Choose a time between 1970 and 3000."))


class TouchpointSchema(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    contact_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The stakeholder; null for account-level channels (sales task, ad audience)."})
    plan_id = fields.Function(lambda t: t.enrollment.plan_id if t.enrollment is not None else None,
                              required=True, allow_none=True, metadata={"type": "integer"})
    enrollment_id = fields.Integer(required=True, allow_none=True)
    step_id = fields.Integer(required=True, allow_none=True)
    channel = fields.String(required=True, metadata={"description": "One of " + ", ".join(CHANNELS) + "."})
    asset_id = fields.Integer(required=True, allow_none=True)
    subject = fields.String(required=True)
    due_at = fields.DateTime(required=True)
    window_end_at = fields.DateTime(required=True, metadata={"description": "Not sent by then: missed."})
    status = fields.String(required=True, metadata={"description": "One of " + ", ".join(TOUCHPOINT_STATUSES) + "."})
    attempts = fields.Integer(required=True)
    sent_at = fields.DateTime(required=True, allow_none=True)
    last_error = fields.String(required=True, metadata={"description": "Why it failed, was skipped or missed."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TouchpointTransitionSchema(Schema):
    from_status = fields.String(required=True)
    to_status = fields.String(required=True)
    reason = fields.String(required=True)
    worker = fields.String(required=True, metadata={"description": "The dispatcher or person who made the change."})
    at = fields.DateTime(required=True)


class TouchpointDetailSchema(TouchpointSchema):
    history = fields.List(fields.Nested(TouchpointTransitionSchema), attribute="transitions", required=True,
                          metadata={"description": "Every status change, oldest first (touchpoints.history)."})


class TouchpointFilterArgs(PageArgs):
    account_id = _id()
    contact_id = _id()
    plan_id = _id()
    channel = fields.String(load_default="", validate=validate.OneOf(["", *CHANNELS]))
    status = fields.String(load_default="", validate=validate.OneOf(["", *TOUCHPOINT_STATUSES]))
    due_from = fields.AwareDateTime(metadata={"description": "Due at or after this time."})
    due_to = fields.AwareDateTime(metadata={"description": "Due before this time."})

    @post_load
    def _clamp(self, data, **_kwargs):
        # a year-1 or year-9999 time in any zone cannot become UTC; both ends mean the same thing here
        for name in ("due_from", "due_to"):
            if data.get(name) is not None:
                try:
                    data[name] = min(max(data[name], EARLIEST), LATEST)
                except OverflowError:
                    data[name] = EARLIEST if data[name].year < 2000 else LATEST
        return data


class TouchpointRescheduleSchema(Schema):
    due_at = fields.AwareDateTime(required=True, validate=_storable, metadata={
        "description": "The new due time; its send window moves with it."})


class TouchpointCancelSchema(Schema):
    reason = fields.String(load_default="", validate=[validate.Length(max=500), no_nul],
                           metadata={"description": "Why, for its history."})


@blp.route("")
class TouchpointList(MethodView):
    @blp.arguments(TouchpointFilterArgs, location="query")
    @blp.response(200, page_of(TouchpointSchema, "TouchpointPage"))
    def get(self, args):
        """List touchpoints by account, stakeholder, plan, channel, status and due time; the latest due first."""
        page, per_page = args.pop("page"), args.pop("per_page")
        items, total = paginate(touchpoints.find(touchpoints.TouchpointFilters(**args)), page, per_page)
        return envelope(items, total, page, per_page)


@blp.route(f"/<{ID}:touchpoint_id>")
class TouchpointItem(MethodView):
    @blp.response(200, TouchpointDetailSchema)
    def get(self, touchpoint_id):
        """One touchpoint with every status change it went through, and why."""
        return touchpoints.get(touchpoint_id)


@blp.route(f"/<{ID}:touchpoint_id>/reschedule")
class TouchpointReschedule(MethodView):
    @blp.arguments(TouchpointRescheduleSchema)
    @blp.response(200, TouchpointDetailSchema)
    def post(self, data, touchpoint_id):
        """Move a planned touchpoint to another time (campaign managers)."""
        return plans.reschedule(touchpoint_id, data["due_at"].astimezone(timezone.utc), auth.current_user(), _now())


@blp.route(f"/<{ID}:touchpoint_id>/cancel")
class TouchpointCancel(MethodView):
    @blp.arguments(TouchpointCancelSchema)
    @blp.response(200, TouchpointDetailSchema)
    def post(self, data, touchpoint_id):
        """Cancel a touchpoint not sent yet (campaign managers); 409 once it was sent or ended otherwise."""
        return plans.cancel_touchpoint(touchpoint_id, data["reason"], auth.current_user(), _now())
