"""Page arguments and the page envelope every API list answers with."""
from __future__ import annotations

from flask import request, url_for
from marshmallow import Schema, fields, validate

from abmcontent.paging import Page

MAX_PER_PAGE = 200


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class LinksSchema(Schema):
    self = fields.String(required=True)
    next = fields.String(allow_none=True)
    prev = fields.String(allow_none=True)


_ENVELOPES: dict[str, type[Schema]] = {}


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """`{items, page, per_page, total, pages, links}` around `item`; one named schema per list."""
    if name not in _ENVELOPES:
        _ENVELOPES[name] = Schema.from_dict({
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
            "pages": fields.Integer(required=True),
            "links": fields.Nested(LinksSchema, required=True),
        }, name=name)
    return _ENVELOPES[name]


def _link(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def envelope(items: list, total: int, page: int, per_page: int) -> dict:
    pages = max(1, -(-total // per_page))
    return {
        "items": items, "page": page, "per_page": per_page, "total": total, "pages": pages,
        "links": {"self": _link(page),
                  "next": _link(page + 1) if page < pages else None,
                  "prev": _link(min(page - 1, pages)) if page > 1 else None},
    }


def paginate(statement, page: int, per_page: int) -> tuple[list, int]:
    """One page of a select() of rows, and the total; past the last page the list is empty."""
    from sqlalchemy import func, select

    from abmcontent.extensions import db

    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = list(db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page))) if total else []
    return rows, total


def from_domain(found: Page, page: int, per_page: int) -> tuple[list, int]:
    """A domain Page (which shows the last page when asked past it) as the API's page."""
    return (found.items if found.page == page else []), found.total


def envelope_of_list(rows: list, page: int, per_page: int) -> dict:
    """The envelope for one page of a list already in memory (a short domain list)."""
    return envelope(rows[(page - 1) * per_page:page * per_page], len(rows), page, per_page)
