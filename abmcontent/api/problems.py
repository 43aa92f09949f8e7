"""Errors of the JSON API as RFC 9457 problem details (application/problem+json).

Every error under /api/ answers with the same shape, whichever layer raised it: a domain error,
a webargs validation failure, a missing route, a rate limit, or a crash. `type` names the kind of
problem and links to its explanation in the API docs; `errors` lists field problems.
"""
from __future__ import annotations

import json
from http import HTTPStatus

from flask import Response, request
from marshmallow import Schema, fields

CONTENT_TYPE = "application/problem+json"

# status → the problem type (an anchor in the API docs); unlisted statuses are "about:blank"
TYPES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 413: "too-large", 415: "unsupported-media-type", 422: "validation", 429: "rate-limited",
    500: "server-error", 503: "unavailable",
}


class FieldProblemSchema(Schema):
    field = fields.String(required=True, metadata={"description": "The field, or `__all__` for the request."})
    location = fields.String(metadata={"description": "Where the field was: json, query, path."})
    message = fields.String(required=True)


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"description": "A URI naming the kind of problem."})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(FieldProblemSchema))


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem_type(status: int) -> str:
    anchor = TYPES.get(status)
    return f"/api/v1/docs#problem-{anchor}" if anchor else "about:blank"


def field_errors(errors: dict | None) -> list[dict]:
    """Field problems from a domain ValidationError ({field: [msg]}) or webargs ({location: {field: [msg]}})."""
    found: list[dict] = []

    def walk(value, field: str, location: str | None):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{field}.{key}" if field else str(key), location)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, field, location)
        else:
            entry = {"field": field or "__all__", "message": str(value)}
            if location:
                entry["location"] = location
            found.append(entry)

    for key, value in (errors or {}).items():
        if key in ("json", "query", "path", "form", "headers", "files") and isinstance(value, dict):
            walk(value, "", key)
        else:
            walk(value, str(key), None)
    return found


def problem(status: int, detail: str = "", *, title: str | None = None, errors: dict | None = None,
            headers: dict | None = None) -> Response:
    body = {"type": problem_type(status), "title": title or HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    found = field_errors(errors)
    if found:
        body["errors"] = found
    response = Response(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
