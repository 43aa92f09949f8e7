"""/api/v1/deals: opportunities per account, their stages and how they closed; CRM upserts by CRM id."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from abmcontent import deals
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, from_domain, page_of
from abmcontent.errors import ValidationError
from abmcontent.models import DEAL_STAGES

blp = resource("Deals", "/deals", "Deals (opportunities) per account: stage, amount, proposal and close dates, "
                                  "meetings, won or lost with a reason, churn. Everyone reads; the account's "
                                  "owner or a campaign manager writes. CRMs upsert by their own id.")

MAX_ID = 2**31 - 1
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
TEXT_FIELDS = tuple(deals.DealInput.__dataclass_fields__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text(limit: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(max=limit), no_nul], **kwargs)


def _day(description: str = "", **kwargs) -> fields.Date:
    return fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY), allow_none=True,
                       metadata={"description": description} if description else {}, **kwargs)


class DealSchema(Schema):
    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    account_name = fields.Function(lambda d: d.account.name, required=True, metadata={"type": "string"})
    name = fields.String(required=True)
    stage = fields.String(required=True, metadata={"description": "One of " + ", ".join(DEAL_STAGES) + "."})
    amount = fields.Integer(required=True, allow_none=True, metadata={"description": "Whole USD."})
    created_on = fields.Date(required=True)
    proposal_sent_on = fields.Date(required=True, allow_none=True)
    meetings = fields.Integer(required=True)
    closed_on = fields.Date(required=True, allow_none=True)
    close_reason = fields.String(required=True, metadata={"description": "Why it was won or lost."})
    churned_on = fields.Date(required=True, allow_none=True, metadata={"description": "A won customer who left."})
    owner_id = fields.Integer(required=True, allow_none=True)
    crm_id = fields.String(required=True, metadata={"description": "The CRM's own id; empty if none."})
    source = fields.String(required=True, metadata={"description": "ui, csv or api."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DealChangeSchema(Schema):
    """A deal's fields; on a change, what is not sent stays as it is."""

    name = _text(deals.MAX_NAME)
    stage = fields.String(validate=validate.OneOf(DEAL_STAGES), metadata={
        "description": "A closed stage needs closed_on (today if not sent); closed_lost a close_reason, "
                       "closed_won an amount. An open stage reopens a closed deal."})
    amount = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=deals.MAX_AMOUNT),
                            metadata={"description": "Whole USD."})
    created_on = _day("Not in the future.")
    proposal_sent_on = _day()
    meetings = fields.Integer(validate=validate.Range(min=0, max=deals.MAX_MEETINGS))
    closed_on = _day("Closed stages only.")
    close_reason = _text(deals.MAX_REASON)
    churned_on = _day("Won deals only: the day the customer left.")
    owner_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "An active sales rep or campaign manager; null for nobody."})
    crm_id = _text(deals.MAX_CRM_ID)


class DealPatchSchema(DealChangeSchema):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class AccountChoiceSchema(DealChangeSchema):
    account_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "The account, by our id…"})
    account_crm_id = _text(64, metadata={"description": "… or by the CRM's id of it…"})
    account = _text(300, metadata={"description": "… or by its exact name or a domain it answers to."})


class DealCreateSchema(AccountChoiceSchema):
    name = _text(deals.MAX_NAME, required=True)


class DealUpsertSchema(AccountChoiceSchema):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class DealFilterArgs(PageArgs):
    account_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    stage = fields.String(load_default="", validate=validate.OneOf(["", "open", "closed", *DEAL_STAGES]),
                          metadata={"description": "A stage, or open or closed."})
    owner = fields.String(load_default="", validate=validate.Regexp(r"^(|none|[0-9]{1,9})$"),
                          metadata={"description": "A user id, or `none`."})
    q = _text(200, load_default="", metadata={"description": "Deal, account name or domain contains."})
    closed_from = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY))
    closed_to = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY))
    sort = fields.String(load_default="created", validate=validate.OneOf(list(deals.SORTS)))
    direction = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


def _as_text(data: dict) -> dict[str, str]:
    """Typed JSON as the text deals.DealInput holds (what a form or CSV cell would say)."""
    def text(value) -> str:
        return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)

    return {name: text(value) for name, value in data.items() if name in TEXT_FIELDS}


def _account(data: dict):
    return deals.account_from(data.get("account_id"), data.get("account_crm_id", ""), data.get("account", ""))


@blp.route("")
class DealList(MethodView):
    @blp.arguments(DealFilterArgs, location="query")
    @blp.response(200, page_of(DealSchema, "DealPage"))
    def get(self, args):
        """List deals like the pipeline page: by account, stage, owner, text and close date."""
        page, per_page = args.pop("page"), args.pop("per_page")
        for name in ("closed_from", "closed_to"):
            args[name] = args[name].isoformat() if args.get(name) else ""
        found = deals.search(deals.DealFilters(**args, page=page), page_size=per_page)
        items, total = from_domain(found, page, per_page)
        return envelope(items, total, page, per_page)

    @blp.arguments(DealCreateSchema)
    @blp.response(201, DealSchema)
    def post(self, data):
        """Add a deal to an account (its owner, or campaign managers); created today unless created_on says."""
        account = _account(data)
        if account is None:
            raise ValidationError({"account_id": [_("Say which account the deal is with.")]})
        text = {"created_on": _now().date().isoformat(), **_as_text(data)}
        return deals.create_deal(account.id, deals.DealInput(**text), auth.current_user(), _now(), source="api")


@blp.route(f"/<{ID}:deal_id>")
class DealItem(MethodView):
    @blp.response(200, DealSchema)
    def get(self, deal_id):
        """One deal."""
        return deals.get_deal(deal_id)

    @blp.arguments(DealPatchSchema)
    @blp.response(200, DealSchema)
    def patch(self, data, deal_id):
        """Change some of a deal's fields (its owner, the account's owner, or campaign managers): move its stage,
        close it won or lost with a reason, reopen it, record churn."""
        return deals.patch_deal(deal_id, _as_text(data), auth.current_user(), _now())

    @blp.response(204)
    def delete(self, deal_id):
        """Delete a deal entered by mistake (campaign managers)."""
        deals.delete_deal(deal_id, auth.current_user())


@blp.route("/by-crm-id/<crm_id>")
class DealByCrmId(MethodView):
    @blp.arguments(DealUpsertSchema)
    @blp.response(200, DealSchema)
    @blp.alt_response(201, schema=DealSchema, description="Created")
    def put(self, data, crm_id):
        """Create or update the deal with this CRM id, as a CRM sync does: an existing deal changes only in the
        fields sent (200); without one, a new deal is made on the account named (201)."""
        deal, created = deals.upsert_by_crm_id(crm_id, _account(data), _as_text(data), auth.current_user(), _now())
        return deal, 201 if created else 200
