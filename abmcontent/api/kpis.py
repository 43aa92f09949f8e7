"""/api/v1/kpis: the ABM results page as figures: KPIs, their series, the funnel, ABM against general."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from abmcontent import kpis
from abmcontent.api.blueprint import resource

blp = resource("KPIs", "/kpis", "The ABM results page as figures: each KPI for a period, tier and plan, its series "
                                "by week or month, the funnel, and ABM against general marketing.")

MAX_ID = 2**31 - 1
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class KpiArgs(Schema):
    period = fields.String(load_default="90d", validate=validate.OneOf(list(kpis.PERIODS)), metadata={
        "description": "30d, 90d, this_quarter, last_quarter, this_year (up to today), or custom (start and end)."})
    start = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY),
                        metadata={"description": "custom: the first day."})
    end = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY),
                      metadata={"description": "custom: the last day, included (at most three years after start)."})
    tier = fields.Integer(validate=validate.OneOf([1, 2, 3]), metadata={"description": "Only accounts of this tier."})
    plan = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                          metadata={"description": "Only accounts in this plan (by plan id)."})


class KpiScopeSchema(Schema):
    period = fields.String(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True, metadata={"description": "Included."})
    tier = fields.Integer(required=True, allow_none=True)
    plan_id = fields.Integer(required=True, allow_none=True)
    time_zone = fields.String(attribute="tz", required=True, metadata={
        "description": "Days are calendar days in this zone."})


class KpiSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.Float(required=True, allow_none=True, metadata={
        "description": "null when there is nothing to divide by."})
    unit = fields.String(required=True, metadata={
        "description": "count, money (USD), percent (a fraction: 0.25 is 25%), seconds, ratio, days or "
                       "money_per_day."})
    detail = fields.String(required=True, metadata={"description": "What it was computed from, in words."})


class KpiBucketSchema(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True, metadata={"description": "Included."})


class KpiSeriesSchema(Schema):
    key = fields.String(required=True)
    values = fields.List(fields.Float(allow_none=True), required=True,
                         metadata={"description": "One value per bucket, in the buckets' order."})


class KpiFunnelStageSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)
    conversion = fields.Float(required=True, allow_none=True, metadata={"description": "Of the stage before."})


class ProgramResultsSchema(Schema):
    key = fields.String(required=True)
    spend = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                        metadata={"description": "Spend by category, whole USD."})
    total_spend = fields.Integer(required=True)
    engaged_accounts = fields.Integer(required=True)
    mqas = fields.Integer(required=True)
    opportunities = fields.Integer(required=True)
    deals_won = fields.Integer(required=True)
    revenue = fields.Integer(required=True)
    roi = fields.Float(required=True, allow_none=True, metadata={"description": "(revenue − spend) ÷ spend."})
    cost_per_opportunity = fields.Float(required=True, allow_none=True)


class ProgramComparisonSchema(Schema):
    abm = fields.Nested(ProgramResultsSchema, required=True, metadata={
        "description": "The agreed target list and the ABM spend."})
    general = fields.Nested(ProgramResultsSchema, required=True, metadata={
        "description": "Every other account and the general spend."})


class KpiDashboardSchema(Schema):
    scope = fields.Nested(KpiScopeSchema, required=True)
    kpis = fields.List(fields.Nested(KpiSchema), required=True)
    buckets = fields.List(fields.Nested(KpiBucketSchema), required=True, metadata={
        "description": "Weeks from the first day for up to 26 weeks, calendar months beyond."})
    series = fields.List(fields.Nested(KpiSeriesSchema), required=True)
    funnel = fields.List(fields.Nested(KpiFunnelStageSchema), required=True)
    spend = fields.Integer(required=True)
    targeted = fields.Integer(required=True, metadata={"description": "Agreed target accounts in scope."})
    empty = fields.Boolean(required=True, metadata={"description": "Nothing at all to show for this scope."})
    notes = fields.List(fields.String(), required=True)
    comparison = fields.Nested(ProgramComparisonSchema, required=True)


@blp.route("")
class Kpis(MethodView):
    @blp.arguments(KpiArgs, location="query")
    @blp.response(200, KpiDashboardSchema)
    def get(self, args):
        """The KPIs for a period, tier and plan, with their series, the funnel and ABM against general
        marketing: the figures of the results page, as its definitions describe them."""
        tz = current_app.config["BABEL_DEFAULT_TIMEZONE"]
        today = _now().astimezone(ZoneInfo(tz)).date()
        text = {name: "" if args.get(name) is None else str(args[name].isoformat() if isinstance(args[name], date)
                                                             else args[name])
                for name in ("start", "end", "tier", "plan")}
        scope = kpis.parse_scope(args["period"], text["start"], text["end"], text["tier"], text["plan"], today, tz)
        board = kpis.dashboard(scope)
        return {"scope": scope, "kpis": list(board.kpis.values()), "buckets": board.buckets,
                "series": list(board.series.values()), "funnel": board.funnel, "spend": board.spend,
                "targeted": board.targeted, "empty": board.empty, "notes": board.notes,
                "comparison": kpis.comparison(scope)}
