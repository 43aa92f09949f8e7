"""/api/v1/events: engagement reported by other systems, and engagement read back."""
from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView
from marshmallow import Schema, fields, post_load, validate

from abmcontent import engagement, engagement_ingest
from abmcontent.api import auth
from abmcontent.api.blueprint import no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, page_of, paginate
from abmcontent.models import EVENT_TYPES

blp = resource("Engagement events", "/events", "Engagement reported by event platforms, sales tools and CRMs "
                                               "(registrations, attendance, meetings, replies, form fills, "
                                               "downloads), counted in scores, MQAs and KPIs like what the app "
                                               "tracks itself; and every engagement event read back.")

MAX_ID = 2**31 - 1
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(3000, 1, 1, tzinfo=timezone.utc)
LIMIT = engagement_ingest.MAX_DETAIL_NUMBER
DETAIL_VALUE = {"nullable": True, "anyOf": [
    {"type": "string", "maxLength": engagement_ingest.MAX_DETAIL_TEXT},
    {"type": "number", "minimum": -LIMIT, "maximum": LIMIT}, {"type": "boolean"}]}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _id(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _detail_shape(value) -> None:
    problem = engagement_ingest.detail_problem(value)
    if problem:
        raise validate.ValidationError(problem)


class EngagementEventInSchema(Schema):
    id = fields.String(allow_none=True, validate=[validate.Length(min=1, max=engagement_ingest.MAX_ID), no_nul],
                       metadata={"description": "Your own key for the event: sent again (by the same API user), it "
                                                "is not stored twice. Leave it out only if you never retry."})
    type = fields.String(required=True, validate=validate.OneOf(engagement_ingest.EXTERNAL_TYPES))
    occurred_at = fields.AwareDateTime(required=True, metadata={
        "description": "When it happened, with its zone: within the last year, not in the future."})
    contact_id = _id(allow_none=True, metadata={"description": "The stakeholder, by our id."})
    email = fields.String(allow_none=True, validate=[validate.Length(max=254), no_nul], metadata={
        "description": "The stakeholder, by email; an unknown address still counts for the account that owns its "
                       "domain."})
    account_id = _id(allow_none=True, metadata={"description": "The account, by our id (without a person)."})
    domain = fields.String(allow_none=True, validate=[validate.Length(max=253), no_nul],
                           metadata={"description": "The account, by a domain it answers to."})
    asset_id = _id(allow_none=True, metadata={"description": "The asset it was about (downloads, form fills)."})
    value = fields.Float(allow_none=True, validate=validate.Range(min=-1e12, max=1e12),
                         metadata={"description": "A number the source attaches, e.g. minutes attended."})
    detail = fields.Dict(keys=fields.String(metadata={"pattern": f"^{engagement_ingest.DETAIL_KEY.pattern}$"}),
                         values=fields.Raw(allow_none=True, metadata=DETAIL_VALUE), allow_none=True,
                         validate=_detail_shape, metadata={
                             "maxProperties": engagement_ingest.MAX_DETAIL_KEYS,
                             "description": "Up to 20 flat facts to keep with it (text, numbers, true/false)."})

    @post_load
    def _input(self, data, **_kwargs) -> engagement_ingest.EventInput:
        text = {name: data.get(name) or "" for name in ("id", "email", "domain")}
        rest = {name: value for name, value in data.items() if name not in text}
        return engagement_ingest.EventInput(**rest, **text)


class EngagementEventBatchSchema(Schema):
    events = fields.List(fields.Nested(EngagementEventInSchema), required=True,
                         validate=validate.Length(min=1, max=engagement_ingest.MAX_BATCH))


class IngestResultSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "The event's place in the batch, from 0."})
    id = fields.String(required=True, allow_none=True, metadata={"description": "Your id, as sent."})
    status = fields.String(required=True, metadata={"description": "stored, or duplicate (stored before)."})
    event_id = fields.Integer(required=True, metadata={"description": "Our id of the stored event."})


class IngestReportSchema(Schema):
    received = fields.Integer(required=True)
    stored = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    results = fields.List(fields.Nested(IngestResultSchema), required=True)


class EngagementEventSchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(required=True, metadata={"description": "One of " + ", ".join(EVENT_TYPES) + "."})
    occurred_at = fields.DateTime(required=True)
    account_id = fields.Integer(required=True, allow_none=True)
    contact_id = fields.Integer(required=True, allow_none=True)
    asset_id = fields.Integer(required=True, allow_none=True)
    landing_page_id = fields.Integer(required=True, allow_none=True)
    touchpoint_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The email an open or click belongs to."})
    value = fields.Float(required=True, allow_none=True, metadata={"description": "Seconds, for time on page."})
    channel = fields.String(required=True, metadata={"description": "Where it happened: web, email, event, "
                                                                    "or api when another system reported it."})
    machine = fields.String(required=True, metadata={
        "description": "Why a mail proxy or link scanner made it, not a person (not counted); empty for people."})
    external_id = fields.Function(engagement_ingest.external_id, required=True, allow_none=True, metadata={
        "type": "string", "description": "The reporter's id, for events sent here."})
    detail = fields.Function(engagement_ingest.caller_detail, required=True, allow_none=True, metadata={
        "type": "object"})


class EngagementEventFilterArgs(PageArgs):
    account_id = _id()
    contact_id = _id()
    type = fields.String(load_default="", validate=validate.OneOf(["", *EVENT_TYPES]))
    since = fields.AwareDateTime(metadata={"description": "At or after this time."})

    @post_load
    def _clamp(self, data, **_kwargs):
        if data.get("since") is not None:  # a year-1 or year-9999 time in any zone cannot become UTC
            try:
                data["since"] = min(max(data["since"], EARLIEST), LATEST)
            except OverflowError:
                data["since"] = EARLIEST if data["since"].year < 2000 else LATEST
        return data


@blp.route("")
class EventList(MethodView):
    @blp.arguments(EngagementEventFilterArgs, location="query")
    @blp.response(200, page_of(EngagementEventSchema, "EngagementEventPage"))
    def get(self, args):
        """Engagement events (tracked and reported), newest first, by account, stakeholder, type and time."""
        page, per_page = args.pop("page"), args.pop("per_page")
        items, total = paginate(engagement.events(**args), page, per_page)
        return envelope(items, total, page, per_page)

    @blp.arguments(EngagementEventBatchSchema)
    @blp.response(201, IngestReportSchema)
    def post(self, data):
        """Report up to 1,000 engagement events at once; all are stored, or none.

Types: form_fill, asset_open, asset_download, event_registered, event_declined, event_attended,
meeting_booked, reply (page views and email opens and clicks are tracked by the app itself). Name the
person by `contact_id` or `email`, or only the company by `account_id` or `domain`; what you name must
agree. Marketers and campaign managers report at any account, sales reps at their own.

Send your own `id` with each event and retry freely: an id already stored (by the same API user) is
answered as a duplicate and stored nothing twice. One invalid event refuses the batch with 422, each
problem named by its place, like `events.3.email`."""
        return engagement_ingest.ingest(data["events"], auth.current_user(), _now())
