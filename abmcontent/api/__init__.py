"""The JSON API under /api/v1: flask-smorest blueprints, documented from the code as OpenAPI 3.

Each resource has its own module (accounts.py, contacts.py, …) with its schemas and thin views
calling the same domain functions as the UI. Errors are RFC 9457 problem details (problems.py),
callers are personal API tokens (auth.py), lists share one page envelope (paging.py).
"""
from __future__ import annotations

import http

import flask_smorest
from flask import Flask
from flask_smorest.utils import prepare_response

from abmcontent.api.problems import CONTENT_TYPE, ProblemSchema

PREFIX = "/api/v1"
VERSION = "1.0.0"

DESCRIPTION = """\
The abmcontent JSON API: everything the web UI does with accounts, stakeholders, content, plans,
touchpoints, engagement and results, for CRMs, ad platforms and in-house tools.

**Authentication.** Every call sends a personal API token: `Authorization: Bearer abm_…`.
Create one under *Integrations → API tokens* in the web UI, or with
`flask tokens create --user EMAIL`. A token acts as its user and is checked against the
user's role; a *read* token can only call GET.

**Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`
and, for invalid input, `errors`: one entry per field.

**Lists** answer `{items, page, per_page, total, pages, links}`; ask with `page` and `per_page`
(at most 200).

**Rate limits.** Each token has a budget per minute; every answer carries `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset`, and a refused call answers 429 with `Retry-After`.
"""


class Api(flask_smorest.Api):
    """flask-smorest, with problem+json errors and without its app-wide error handler (the HTML
    pages keep theirs; abmcontent.web sends errors under /api/ here)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as problem details (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def resources():
    from abmcontent.api import accounts, assets, contacts, landing_pages
    from abmcontent.api import deals, events, kpis, plans, touchpoints
    from abmcontent.api import mail_events

    return [accounts.blp, contacts.blp, assets.blp, landing_pages.blp,
            plans.blp, touchpoints.blp, events.blp, deals.blp, kpis.blp, mail_events.blp]


def init_app(app: Flask) -> Api:
    from abmcontent.api import docs
    from abmcontent.extensions import csrf

    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(spec_kwargs={
        "title": "abmcontent API", "version": VERSION, "openapi_version": "3.0.3",
        "info": {"description": DESCRIPTION},
        "security": [{"bearerAuth": []}],
    })
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A personal API token (abm_…), created in the UI or with `flask tokens create`."})
    for blp in resources():
        csrf.exempt(blp)
        api.register_blueprint(blp)
    app.register_blueprint(docs.bp)
    app.extensions["abm-api"] = api
    return api
