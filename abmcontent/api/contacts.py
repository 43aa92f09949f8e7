"""/api/v1/contacts: stakeholders at target accounts, with their consent and suppression status."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields, post_load, validate

from abmcontent import contacts, taxonomy
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, from_domain, page_of

blp = resource("Contacts", "/contacts", "Stakeholders at target accounts: persona, seniority, buying role, "
                                        "language and time zone, with their email consent and suppression.")

MAX_ID = 2**31 - 1
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text(limit: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(max=limit), no_nul], **kwargs)


class ConsentSchema(Schema):
    channel = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "Where the consent was given."})
    wording = fields.String(required=True, metadata={"description": "The exact text the person agreed to."})
    given_at = fields.DateTime(required=True)
    withdrawn_at = fields.DateTime(required=True, allow_none=True)


class SuppressionSchema(Schema):
    reason = fields.String(required=True, metadata={"description": "unsubscribed, bounced or complained."})
    at = fields.DateTime(required=True)


class ContactSchema(Schema):
    """A stakeholder as the API shows it; consent and suppression are read-only here."""

    id = fields.Integer(required=True)
    account_id = fields.Integer(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    full_name = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(required=True)
    title = fields.String(required=True)
    persona = fields.String(required=True)
    seniority = fields.String(required=True)
    buying_authority = fields.String(required=True)
    language = fields.String(required=True)
    timezone = fields.String(required=True)
    crm_id = fields.String(required=True)
    email_consent = fields.Method("_email_consent", required=True, metadata={
        "type": "boolean", "description": "An email consent is on record and not withdrawn."})
    consents = fields.List(fields.Nested(ConsentSchema), required=True)
    unsubscribed_at = fields.DateTime(required=True, allow_none=True)
    suppression = fields.Nested(SuppressionSchema, required=True, allow_none=True, metadata={
        "description": "Why the address is never emailed, or null."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)

    def _email_consent(self, contact) -> bool:
        return any(c.channel == "email" and c.withdrawn_at is None for c in contact.consents)


class ContactEditSchema(Schema):
    """The details an edit may change; none required: what is not sent stays as it is."""

    first_name = _text(100)
    last_name = _text(100)
    email = _text(254)
    title = _text(200)
    persona = _text(50, metadata={"description": "A persona key, e.g. economic_buyer."})
    seniority = fields.String(validate=validate.OneOf(["", *contacts.SENIORITIES]))
    buying_authority = fields.String(validate=validate.OneOf(["", *contacts.AUTHORITIES]))
    language = fields.String(validate=validate.OneOf(list(taxonomy.CONTENT_LANGUAGES)))
    timezone = _text(64, metadata={"description": "An IANA name, e.g. Asia/Seoul; empty for the account's."})


class ContactCreateSchema(ContactEditSchema):
    account_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    email = _text(254, required=True)
    email_consent = fields.Boolean(load_default=False,
                                   metadata={"description": "The person agreed to be emailed (say where)."})
    consent_source = _text(200, load_default="", metadata={
        "description": "Required with email_consent, e.g. “booth sign-up, Data Summit 2026”."})


class ContactFilterArgs(PageArgs):
    account_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    persona = _text(50, load_default="")
    email = _text(254, load_default="", metadata={"description": "Exactly this address (any case)."})
    q = _text(200, load_default="", metadata={"description": "Name, email or title contains every word."})
    updated_since = fields.AwareDateTime(metadata={
        "description": "Only stakeholders changed at or after this time (for incremental syncs)."})

    @post_load
    def _clamp(self, data, **_kwargs):
        # a year-1 or year-9999 time in any zone cannot become UTC; both ends mean the same thing here
        if data.get("updated_since") is not None:
            data["updated_since"] = min(max(data["updated_since"], EARLIEST), LATEST)
        return data


@blp.route("")
class ContactList(MethodView):
    @blp.arguments(ContactFilterArgs, location="query")
    @blp.response(200, page_of(ContactSchema, "ContactPage"))
    def get(self, args):
        """List stakeholders, oldest first, filtered by account, persona, email, text or change time."""
        page, per_page = args.pop("page"), args.pop("per_page")
        found = contacts.search(contacts.ContactFilters(**args), page, per_page)
        items, total = from_domain(found, page, per_page)
        return envelope(items, total, page, per_page)

    @blp.arguments(ContactCreateSchema)
    @blp.response(201, ContactSchema)
    def post(self, data):
        """Add a stakeholder to an account (its owner, or campaign managers), with email consent if given."""
        account_id = data.pop("account_id")
        return contacts.add_stakeholder(account_id, contacts.StakeholderInput(**data), auth.current_user(), _now())


@blp.route(f"/<{ID}:contact_id>")
class ContactItem(MethodView):
    @blp.response(200, ContactSchema)
    def get(self, contact_id):
        """One stakeholder."""
        return contacts.get_contact(contact_id)

    @blp.arguments(ContactEditSchema)
    @blp.response(200, ContactSchema)
    def patch(self, data, contact_id):
        """Change some of a stakeholder's details (the account owner, or campaign managers).

        Fields not sent stay as they are. Consent is not changed here: it is given when the
        stakeholder is added and withdrawn by unsubscribing."""
        return contacts.update_stakeholder(contact_id, data, auth.current_user(), _now())


@blp.route(f"/<{ID}:contact_id>/unsubscribe")
class ContactUnsubscribe(MethodView):
    @blp.response(200, ContactSchema)
    def post(self, contact_id):
        """Record that the person asked for no more email (any role may).

        Their email consents are withdrawn and the address is suppressed: no plan, and no later
        CRM import or form fill, emails them again."""
        user = auth.current_user()
        contact = contacts.unsubscribe(contact_id, f"API: {user.email}", _now())
        if contact is None:
            abort(404, _("That stakeholder does not exist."))
        return contact
