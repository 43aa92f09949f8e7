"""/api/v1/accounts: target accounts, their firmographics, qualification and target-list decisions."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from flask.views import MethodView
from marshmallow import Schema, fields, post_dump, validate

from abmcontent import accounts, taxonomy
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, resource
from abmcontent.api.paging import PageArgs, envelope, from_domain, page_of
from abmcontent.models import TARGET_STATUSES

blp = resource("Accounts", "/accounts", "Target accounts: firmographics, ICP fit and tier, owner, journey "
                                        "stage, BANT and context, target-list decisions.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class BantEntrySchema(Schema):
    status = fields.String(validate=validate.OneOf(accounts.BANT_STATUSES), load_default="unknown")
    note = fields.String(validate=validate.Length(max=2000), load_default="")


class BantSchema(Schema):
    budget = fields.Nested(BantEntrySchema)
    authority = fields.Nested(BantEntrySchema)
    need = fields.Nested(BantEntrySchema)
    timeline = fields.Nested(BantEntrySchema)


class AccountSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    domains = fields.Method("_domains", deserialize="_load_domains",
                            metadata={"type": "array", "items": {"type": "string"},
                                      "description": "Web domains; the first is the main one."})
    industry = fields.String(validate=validate.OneOf(list(taxonomy.INDUSTRIES)), allow_none=True,
                             metadata={"description": "An industry key; null for none."})
    sub_industry = fields.String(validate=validate.Length(max=200))
    revenue = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**15),
                             metadata={"description": "Annual revenue, whole USD."})
    employees = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**8))
    country = fields.String(validate=validate.Length(max=100), metadata={"description": "ISO 3166-1 alpha-2."})
    region = fields.String(validate=validate.Length(max=100))
    city = fields.String(validate=validate.Length(max=200))
    technologies = fields.List(fields.String(validate=validate.Length(max=100)), validate=validate.Length(max=200))
    competitor_products = fields.List(fields.String(validate=validate.Length(max=100)),
                                      validate=validate.Length(max=200))
    customer_base = fields.String(validate=validate.Length(max=200))
    owner_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    tier = fields.Integer(allow_none=True, validate=validate.OneOf([1, 2, 3]),
                          metadata={"description": "Set by hand; null leaves it to the ICP score."})
    journey_stage = fields.String()
    lost = fields.Boolean()
    deal_size = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**15))
    ip_ranges = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=500))
    icp_score = fields.Float(dump_only=True, allow_none=True)
    target_status = fields.String(dump_only=True, allow_none=True)
    bant = fields.Dict(dump_only=True)
    goals = fields.String(dump_only=True)
    plans = fields.String(dump_only=True)
    challenges = fields.String(dump_only=True)
    stakes = fields.String(dump_only=True)
    timeline = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @post_dump
    def _no_industry_is_null(self, data, **kwargs):
        if data.get("industry") == "":
            data["industry"] = None
        return data

    def _domains(self, account) -> list[str]:
        return [d.domain for d in account.domains]

    def _load_domains(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 253 for v in value):
            raise validate.ValidationError("A list of domains, like [\"example.com\"].")
        return value[:50]


class AccountPatchSchema(AccountSchema):
    """The same fields, none required: what is not sent stays as it is."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class AccountFilterArgs(PageArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "Name or domain contains."})
    tier = fields.String(load_default="", validate=validate.OneOf(["", "1", "2", "3", "none"]))
    industry = fields.String(load_default="", validate=validate.Length(max=100))
    owner = fields.String(load_default="", validate=validate.Regexp(r"^(|none|[0-9]{1,9})$"),
                          metadata={"description": "A user id, or `none`."})
    stage = fields.String(load_default="", validate=validate.Length(max=50))
    region = fields.String(load_default="", validate=validate.Length(max=50),
                           metadata={"description": "A country code or place group, e.g. US, US-NORTHEAST, KR."})
    target = fields.String(load_default="", validate=validate.OneOf(["", "none", *TARGET_STATUSES]))
    lost = fields.String(load_default="", validate=validate.OneOf(["", "0", "1"]))
    sort = fields.String(load_default="score", validate=validate.OneOf(list(accounts.SORTS)))
    direction = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class QualificationSchema(Schema):
    bant = fields.Nested(BantSchema)
    goals = fields.String(validate=validate.Length(max=5000))
    plans = fields.String(validate=validate.Length(max=5000))
    challenges = fields.String(validate=validate.Length(max=5000))
    stakes = fields.String(validate=validate.Length(max=5000))
    timeline = fields.String(validate=validate.Length(max=5000))


class TargetDecisionSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(TARGET_STATUSES))
    comment = fields.String(load_default="", validate=validate.Length(max=1000),
                            metadata={"description": "Required when rejecting."})


class RecommendedAssetSchema(Schema):
    asset_id = fields.Integer(required=True)
    slug = fields.String(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    summary = fields.String()
    score = fields.Float(required=True)
    reasons = fields.Method("_reasons", metadata={"type": "array", "items": {"type": "string"}})

    def _reasons(self, item) -> list[str]:
        return [reason.text for reason in item.reasons]


class PersonaRecommendationsSchema(Schema):
    persona = fields.String()
    assets = fields.List(fields.Nested(RecommendedAssetSchema))


def _firmographics(account, changes: dict) -> accounts.Firmographics:
    """The account's current firmographics with `changes` on top (PATCH keeps what is not sent)."""
    current = accounts.Firmographics() if account is None else accounts.Firmographics(
        name=account.name, domains=[d.domain for d in account.domains], industry=account.industry,
        sub_industry=account.sub_industry, revenue=account.revenue, employees=account.employees,
        country=account.country, region=account.region, city=account.city,
        technologies=list(account.technologies or []), competitor_products=list(account.competitor_products or []),
        customer_base=account.customer_base, owner_id=account.owner_id,
        tier=account.tier if account.tier_locked else None, journey_stage=account.journey_stage,
        lost=account.lost, deal_size=account.deal_size, ip_ranges=list(account.ip_ranges or []))
    merged = {**asdict(current), **changes}
    merged["industry"] = merged["industry"] or ""
    return accounts.Firmographics(**merged)


@blp.route("")
class AccountList(MethodView):
    @blp.arguments(AccountFilterArgs, location="query")
    @blp.response(200, page_of(AccountSchema, "AccountPage"))
    def get(self, args):
        """List accounts, filtered and sorted like the Accounts page."""
        page, per_page = args.pop("page"), args.pop("per_page")
        filters = accounts.AccountFilters(**args, page=page)
        items, total = from_domain(accounts.search(filters, page_size=per_page), page, per_page)
        return envelope(items, total, page, per_page)

    @blp.arguments(AccountSchema)
    @blp.response(201, AccountSchema)
    def post(self, data):
        """Create an account (campaign managers). Its ICP score and tier follow from the ICP."""
        return accounts.save_firmographics(None, _firmographics(None, data), auth.current_user(), _now())


@blp.route(f"/<{ID}:account_id>")
class AccountItem(MethodView):
    @blp.response(200, AccountSchema)
    def get(self, account_id):
        """One account."""
        return accounts.get_account(account_id)

    @blp.arguments(AccountPatchSchema)
    @blp.response(200, AccountSchema)
    def patch(self, data, account_id):
        """Change some of an account's firmographics (campaign managers); fields not sent stay as they are."""
        account = accounts.get_account(account_id)
        return accounts.save_firmographics(account.id, _firmographics(account, data), auth.current_user(), _now())


@blp.route(f"/<{ID}:account_id>/qualification")
class AccountQualification(MethodView):
    @blp.arguments(QualificationSchema)
    @blp.response(200, AccountSchema)
    def put(self, data, account_id):
        """Set BANT and the account context (the owner, or campaign managers). Context fields not sent stay."""
        context = {key: data[key] for key in accounts.CONTEXT_KEYS if key in data}
        return accounts.update_qualification(account_id, data.get("bant"), context or None,
                                             auth.current_user(), _now())


@blp.route(f"/<{ID}:account_id>/target-decisions")
class AccountTargetDecision(MethodView):
    @blp.arguments(TargetDecisionSchema)
    @blp.response(200, AccountSchema)
    def post(self, data, account_id):
        """Propose, agree or reject the account for the target list, with a reason."""
        return accounts.decide_target(account_id, data["status"], data["comment"], auth.current_user(), _now())


@blp.route(f"/<{ID}:account_id>/recommendations")
class AccountRecommendations(MethodView):
    @blp.response(200, PersonaRecommendationsSchema(many=True))
    def get(self, account_id):
        """Published content to send each persona at this account, for its stage, industry and context."""
        account = accounts.get_account(account_id)
        return [{"persona": persona, "assets": assets}
                for persona, assets in accounts.recommendations(account, _now())]
