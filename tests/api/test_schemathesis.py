"""Schemathesis against /api/v1/openapi.json: random valid and invalid calls to every operation
find no server error and no response outside the document (status, media type, headers, body).

An admin's write token makes every operation reachable; a small seeded world (accounts, a
stakeholder, published content, a plan, a landing page) gives the ids something to hit.
"""
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

from abmcontent import api_tokens
from abmcontent.extensions import db
from abmcontent.models import Account
from tests.conftest import NOW, make_asset, make_contact, make_landing_page, make_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 25  # per operation; `make test` stays within its budget


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation; the document needs no database."""
    from abmcontent import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        spec = app.extensions["abm-api"].spec.to_dict()
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")]


def pytest_generate_tests(metafunc):
    if "operation" in metafunc.fixturenames:
        operations = _operations()
        metafunc.parametrize("operation", operations, ids=[f"{m} {p}" for m, p in operations])


def _seed(app) -> str:
    admin = make_user("admin")
    make_contact()
    for n in range(3):
        db.session.add(Account(name=f"Account {n}", domain=f"a{n}.example", industry="financials", tier=1 + n))
    db.session.commit()
    make_asset(admin, status="published")
    make_landing_page(admin)
    from abmcontent import plans

    plans.install_templates(admin, NOW)
    app.config["RATE_LIMITS"] = {"api_read": "1000000/minute", "api_write": "1000000/minute"}
    return api_tokens.create(admin.id, "schemathesis", "write", NOW).secret


def test_no_server_error_and_no_answer_outside_the_document(app, operation):
    secret = _seed(app)
    method, path = operation
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    strategy = schema[path][method].as_strategy()

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)

    check()
