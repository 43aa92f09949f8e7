"""/api/v1/assets: the content library: find, read, write drafts, move through review, revisions."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from flask import abort
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields, pre_dump, validate

from abmcontent import library, taxonomy
from abmcontent.api import auth
from abmcontent.api.blueprint import ID, no_nul, resource
from abmcontent.api.paging import PageArgs, envelope, from_domain, page_of, paginate

blp = resource("Assets", "/assets", "The content library: assets tagged by journey stage, persona and "
                                    "industry, their review workflow (draft → review → published → "
                                    "archived) and revisions. Everyone reads; content marketers write.")

MAX_TAGS = 50


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _text(limit: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(max=limit), no_nul], **kwargs)


def _tags(description: str, **kwargs) -> fields.List:
    return fields.List(_text(60), validate=validate.Length(max=MAX_TAGS), metadata={"description": description},
                       **kwargs)


class AssetSummarySchema(Schema):
    """An asset in a list: everything but its body."""

    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    language = fields.String(required=True)
    status = fields.String(required=True)
    summary = fields.String(required=True)
    gated = fields.Boolean(required=True)
    cta_label = fields.String(required=True)
    cta_url = fields.String(required=True)
    stages = fields.List(fields.String(), required=True)
    personas = fields.List(fields.String(), required=True)
    industries = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    published_at = fields.DateTime(required=True, allow_none=True)


class AssetSchema(AssetSummarySchema):
    body = fields.String(required=True, metadata={"description": "Markdown with merge fields."})
    revision = fields.Method("_revision", required=True, metadata={
        "type": "integer", "description": "The current revision: send it back as base_revision when editing."})
    allowed_transitions = fields.Method("_allowed", required=True, metadata={
        "type": "array", "items": {"type": "string"},
        "description": "The statuses the caller may move the asset to now."})
    updated_by_id = fields.Integer(required=True, allow_none=True)

    def _revision(self, asset) -> int:
        return library.current_revision(asset)

    def _allowed(self, asset) -> list[str]:
        return library.allowed_transitions(asset, auth.current_user())


class AssetInputSchema(Schema):
    title = _text(300, required=True)
    slug = _text(120, metadata={"description": "Lowercase words joined by hyphens; made from the title if empty."})
    type = fields.String(validate=validate.OneOf(list(taxonomy.ASSET_TYPES)))
    language = fields.String(validate=validate.OneOf(list(taxonomy.CONTENT_LANGUAGES)))
    summary = _text(1000)
    body = _text(library.MAX_BODY, metadata={"description": "Markdown; merge fields like {{ account.name }}."})
    gated = fields.Boolean(metadata={"description": "Ask for a form fill before the content."})
    cta_label = _text(200)
    cta_url = _text(2000, metadata={"description": "https://, http://, mailto: or a path."})
    stages = _tags("Journey stage keys; at least one.")
    personas = _tags("Persona keys; at least one.")
    industries = _tags("Industry keys.")


class AssetPatchSchema(AssetInputSchema):
    """The same fields, none required, with the revision the edit started from."""

    title = _text(300)
    base_revision = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1), metadata={
        "description": "The revision this edit started from: if someone saved since, the edit is refused with 409."})
    note = _text(300, load_default="", metadata={"description": "What changed, for the history."})


class AssetFilterArgs(PageArgs):
    q = _text(200, load_default="", metadata={"description": "Every word appears in the title, summary or body."})
    stage = _text(60, load_default="")
    persona = _text(60, load_default="")
    industry = _text(60, load_default="")
    type = fields.String(load_default="", validate=validate.OneOf(["", *taxonomy.ASSET_TYPES]))
    language = fields.String(load_default="", validate=validate.OneOf(["", *taxonomy.CONTENT_LANGUAGES]))
    status = fields.String(load_default="", validate=validate.OneOf(["", "any", *taxonomy.STATUSES]), metadata={
        "description": "Empty: everything but archived; `any`: everything."})
    sort = fields.String(load_default="updated", validate=validate.OneOf(list(library.SORTS)))


class TransitionSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf(list(taxonomy.STATUSES)), metadata={
        "description": "review (submit), published (approve and publish), draft (back to draft), archived."})
    comment = _text(500, load_default="")


class TransitionRecordSchema(Schema):
    from_status = fields.String(required=True)
    to_status = fields.String(required=True)
    comment = fields.String(required=True)
    user_id = fields.Integer(required=True, allow_none=True)
    at = fields.DateTime(required=True)


class RevisionSchema(Schema):
    number = fields.Integer(required=True)
    note = fields.String(required=True)
    author_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class SnapshotSchema(Schema):
    title = fields.String()
    slug = fields.String()
    type = fields.String()
    language = fields.String()
    summary = fields.String()
    body = fields.String()
    gated = fields.Boolean()
    cta_label = fields.String()
    cta_url = fields.String()
    stages = fields.List(fields.String())
    personas = fields.List(fields.String())
    industries = fields.List(fields.String())


class RevisionDetailSchema(RevisionSchema):
    snapshot = fields.Nested(SnapshotSchema, required=True,
                             metadata={"description": "The asset as this save left it."})


class CoverageCellSchema(Schema):
    stage = fields.String(required=True)
    persona = fields.String(required=True)
    count = fields.Integer(required=True)


class CoverageSchema(Schema):
    stages = fields.List(fields.String(), required=True)
    personas = fields.List(fields.String(), required=True)
    cells = fields.List(fields.Nested(CoverageCellSchema), required=True)
    gaps = fields.Integer(required=True, metadata={"description": "Stage × persona cells with no published asset."})

    @pre_dump
    def _cells(self, coverage, **_kwargs) -> dict:
        return {"stages": list(coverage.stages), "personas": list(coverage.personas), "gaps": coverage.gaps,
                "cells": [{"stage": s, "persona": p, "count": coverage.count(s, p)}
                          for s in coverage.stages for p in coverage.personas]}


class CoverageArgs(Schema):
    language = fields.String(load_default="", validate=validate.OneOf(["", *taxonomy.CONTENT_LANGUAGES]))


@blp.route("")
class AssetList(MethodView):
    @blp.arguments(AssetFilterArgs, location="query")
    @blp.response(200, page_of(AssetSummarySchema, "AssetPage"))
    def get(self, args):
        """Find assets with the library's filters; free text puts title hits first."""
        page, per_page = args.pop("page"), args.pop("per_page")
        found = library.search(library.LibraryFilters(**args, page=page), page_size=per_page)
        items, total = from_domain(found, page, per_page)
        return envelope(items, total, page, per_page)

    @blp.arguments(AssetInputSchema)
    @blp.response(201, AssetSchema)
    def post(self, data):
        """Create a draft (content marketers). Unknown merge fields or tags are refused, naming the field."""
        return library.create_asset(library.AssetInput(**data), auth.current_user(), _now())


@blp.route("/coverage")
class AssetCoverage(MethodView):
    @blp.arguments(CoverageArgs, location="query")
    @blp.response(200, CoverageSchema)
    def get(self, args):
        """Published assets per journey stage × persona: where the library has gaps."""
        return library.coverage(args["language"])


@blp.route(f"/<{ID}:asset_id>")
class AssetItem(MethodView):
    @blp.response(200, AssetSchema)
    def get(self, asset_id):
        """One asset with its body, tags, status and current revision."""
        return library.get_asset(asset_id)

    @blp.arguments(AssetPatchSchema)
    @blp.response(200, AssetSchema)
    def patch(self, data, asset_id):
        """Edit an asset (content marketers); fields not sent stay as they are.

        Each save is a new revision; an edit that changes nothing saves nothing. Send the
        revision you started from as base_revision: if someone saved since, the edit is refused
        with 409 and nothing changes."""
        note, base_revision = data.pop("note"), data.pop("base_revision", None)
        asset = library.get_asset(asset_id)
        try:
            return library.update_asset(asset.id, replace(library.AssetInput.of(asset), **data), auth.current_user(),
                                        _now(), note=note, base_revision=base_revision)
        except library.EditConflict:
            abort(409, _("Someone saved this asset after revision %(number)d: read it again and reapply "
                         "your changes.", number=base_revision))


@blp.route(f"/<{ID}:asset_id>/transitions")
class AssetTransitions(MethodView):
    @blp.response(200, TransitionRecordSchema(many=True))
    def get(self, asset_id):
        """The asset's workflow history, newest first."""
        return library.get_asset(asset_id).transitions

    @blp.arguments(TransitionSchema)
    @blp.response(200, AssetSchema)
    def post(self, data, asset_id):
        """Move the asset through the workflow (content marketers).

        draft → review → published → archived, and back to draft. A move the workflow does not
        allow from the current status is 409; publishing an asset with invalid fields is 422."""
        return library.transition(asset_id, data["to"], auth.current_user(), _now(), comment=data["comment"])


@blp.route(f"/<{ID}:asset_id>/revisions")
class AssetRevisions(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RevisionSchema, "RevisionPage"))
    def get(self, args, asset_id):
        """The asset's revisions, newest first."""
        items, total = paginate(library.revisions(asset_id), args["page"], args["per_page"])
        return envelope(items, total, args["page"], args["per_page"])


@blp.route(f"/<{ID}:asset_id>/revisions/<{ID}:number>")
class AssetRevisionItem(MethodView):
    @blp.response(200, RevisionDetailSchema)
    def get(self, asset_id, number):
        """One revision with the asset as that save left it."""
        return library.get_revision(asset_id, number)


@blp.route(f"/<{ID}:asset_id>/revisions/<{ID}:number>/restore")
class AssetRevisionRestore(MethodView):
    @blp.response(200, AssetSchema)
    def post(self, asset_id, number):
        """Make an old revision current again, as a new revision (content marketers)."""
        return library.restore(asset_id, number, auth.current_user(), _now())
