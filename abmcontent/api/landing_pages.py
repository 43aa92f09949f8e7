"""/api/v1/landing-pages and an account's personalized URLs.

A personalized URL's token is shown once, in the answer that creates it: only its SHA-256 is
stored, so later reads show its first characters (hint) and never the token.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from abmcontent import accounts, identification, landing
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, resource
from abmcontent.api.paging import PageArgs, envelope_of_list, page_of
from abmcontent.web.landing_pages import public_url

# No prefix of its own: the account-scoped links live under /accounts/{id}/personal-urls.
blp = resource("Landing pages", "", "Landing pages personalized per account and stakeholder, and the "
                                    "personalized URLs (purls) that open them for one account or person.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SectionSummarySchema(Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "hero, recommended, case_study, owner_card, "
                                                                 "cta or gated_form."})
    heading = fields.Method("_heading", required=True, metadata={
        "type": "string", "description": "The section's heading or headline, merge fields unrendered."})

    def _heading(self, section) -> str:
        settings = section.settings or {}
        return str(settings.get("heading") or settings.get("headline") or "")


class LandingPageSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    title = fields.String(required=True)
    language = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "draft, published or archived."})
    holdout_percent = fields.Integer(required=True, metadata={
        "description": "The share of identified visitors shown the generic page, to measure the lift."})
    url = fields.Method("_url", required=True, metadata={
        "type": "string", "description": "The public address (it answers only while the page is published)."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    published_at = fields.DateTime(required=True, allow_none=True)

    def _url(self, page) -> str:
        return public_url(page)


class LandingPageDetailSchema(LandingPageSchema):
    sections = fields.List(fields.Nested(SectionSummarySchema), required=True)


class PersonalUrlSchema(Schema):
    """A personalized link, without its token."""

    id = fields.Integer(required=True)
    hint = fields.String(required=True,
                         metadata={"description": "The token's first characters, to tell links apart."})
    account_id = fields.Integer(required=True)
    contact_id = fields.Integer(required=True, allow_none=True, metadata={"description": "null: the whole account."})
    landing_page_id = fields.Integer(required=True, allow_none=True)
    created_by_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)
    active = fields.Function(lambda link: link.revoked_at is None, required=True, metadata={"type": "boolean"})


class PersonalUrlCreatedSchema(Schema):
    url = fields.String(required=True, metadata={
        "description": "The full personalized URL. Shown only now: only the token's hash is kept."})
    link = fields.Nested(PersonalUrlSchema, required=True)


class PersonalUrlInputSchema(Schema):
    account_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    contact_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                                metadata={"description": "A stakeholder at the account; null or absent for the "
                                                         "whole account."})


@blp.route("/landing-pages")
class LandingPageList(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(LandingPageSchema, "LandingPagePage"))
    def get(self, args):
        """List landing pages, published first, then the most recently changed."""
        return envelope_of_list(landing.list_pages(), args["page"], args["per_page"])


@blp.route(f"/landing-pages/<{ID}:page_id>")
class LandingPageItem(MethodView):
    @blp.response(200, LandingPageDetailSchema)
    def get(self, page_id):
        """One landing page with its sections, in order."""
        return landing.get_page(page_id)


@blp.route(f"/landing-pages/<{ID}:page_id>/personal-urls")
class LandingPagePersonalUrls(MethodView):
    @blp.arguments(PersonalUrlInputSchema)
    @blp.response(201, PersonalUrlCreatedSchema)
    def post(self, data, page_id):
        """Create a personalized URL opening this published page for an account or one stakeholder.

        The answer holds the full URL, the only time it is shown: only the token's hash is kept.
        Give it to one person; revoke it when it should stop working."""
        link, token = identification.create_personal_url(data["account_id"], data["contact_id"], auth.current_user(),
                                                         _now(), landing_page_id=page_id)
        return {"url": public_url(link.landing_page, token), "link": link}


@blp.route(f"/accounts/<{ID}:account_id>/personal-urls")
class AccountPersonalUrls(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(PersonalUrlSchema, "PersonalUrlPage"))
    def get(self, args, account_id):
        """An account's personalized URLs, newest first, revoked ones included; tokens are never shown."""
        accounts.get_account(account_id)
        return envelope_of_list(identification.links_for(account_id), args["page"], args["per_page"])


@blp.route(f"/accounts/<{ID}:account_id>/personal-urls/<{ID}:link_id>")
class AccountPersonalUrl(MethodView):
    @blp.response(204)
    def delete(self, account_id, link_id):
        """Revoke a personalized URL: it opens the generic page from now on. Revoking twice is harmless."""
        identification.revoke(link_id, account_id, auth.current_user(), _now())
