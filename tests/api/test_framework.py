"""What every API call shares: token auth, problem+json errors, rate limits, the OpenAPI document."""
import json

from abmcontent import accounts
from tests.api.helpers import assert_problem, caller


def test_no_token_is_401_problem_with_a_bearer_challenge(client):
    response = client.get("/api/v1/accounts")
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization" in body["detail"] and body["instance"] == "/api/v1/accounts"


def test_the_session_cookie_is_not_a_way_in(client):
    from tests.conftest import login, make_user

    login(client, make_user("admin"))
    assert_problem(client.get("/api/v1/accounts"), 401)


def test_a_revoked_token_is_refused_at_once(client):
    from abmcontent import api_tokens
    from tests.conftest import NOW

    api = caller(client, "sales", scope="read")
    assert api.get("/api/v1/accounts").status_code == 200
    token = api_tokens.authenticate(api.secret, NOW)
    api_tokens.revoke(token.id, api.user, NOW)
    assert_problem(api.get("/api/v1/accounts"), 401)


def test_unknown_paths_and_methods_answer_in_problem_json(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/no-such-thing"), 404)
    response = api.delete("/api/v1/accounts")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400_and_changes_nothing(client):
    api = caller(client, "campaign")
    response = api.post("/api/v1/accounts", data="{not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_a_crash_is_a_500_problem_without_a_traceback(client, monkeypatch):
    api = caller(client, "sales", scope="read")

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(accounts, "search", broken)
    body = assert_problem(api.get("/api/v1/accounts"), 500)
    assert "secret internals" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_every_answer_says_the_rate_limit_and_the_limit_refuses_with_retry_after(app, client):
    app.config["RATE_LIMITS"] = {"api_read": "3/minute"}
    api = caller(client, "sales", scope="read")
    first = api.get("/api/v1/accounts")
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("3", "2")
    api.get("/api/v1/accounts")
    api.get("/api/v1/accounts")
    refused = api.get("/api/v1/accounts")
    assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    # another token has its own budget
    assert caller(client, "sales", scope="read").get("/api/v1/accounts").status_code == 200


def test_writes_have_their_own_budget(app, client):
    app.config["RATE_LIMITS"] = {"api_write": "1/minute"}
    api = caller(client, "campaign")
    assert api.post("/api/v1/accounts", json={"name": "One"}).status_code == 201
    assert_problem(api.post("/api/v1/accounts", json={"name": "Two"}), 429)
    assert api.get("/api/v1/accounts").status_code == 200


def test_guessing_tokens_is_rate_limited_per_address(app, client):
    app.config["RATE_LIMITS"] = {"api_denied": "2/minute"}
    for _ in range(2):
        assert_problem(client.get("/api/v1/accounts", headers={"Authorization": "Bearer abm_guess"}), 401)
    assert_problem(client.get("/api/v1/accounts", headers={"Authorization": "Bearer abm_guess"}), 429)


def test_the_openapi_document_describes_every_route_under_api_v1(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.") and spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {path for path in spec["paths"]}
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint.split(".")[0] not in ("api-docs", "api_docs")}
    as_openapi = {__import__("re").sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r) for r in routes}
    assert as_openapi <= documented
    problem = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_the_reference_page_lists_every_operation_without_a_cdn(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    html = client.get("/api/v1/docs").get_data(as_text=True)
    for path, item in spec["paths"].items():
        assert f"<code>{path}</code>" in html
    import re

    sources = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
