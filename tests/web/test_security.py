"""Roles, anonymous visitors and CSRF, as SECURITY.md asks."""
import pytest

from tests.conftest import csrf_token_from, login, make_asset, make_user

HX = {"HX-Request": "true"}


# Public endpoints posted to without a session: the gated form (which checks Origin instead),
# the time-on-page beacon (navigator.sendBeacon cannot add a header) and the RFC 8058 one-click
# unsubscribe (the mail client posts it; SECURITY.md names it as the exemption). The event
# registration page's form is the gated form's twin (Origin check, honeypot, signed links).
CSRF_EXEMPT = {"public.gate", "public.beacon", "public.unsubscribe", "events.answer"}


def _post_routes(app):
    """Every POST the session cookie can reach. The JSON API (/api/) never reads the cookie, only a
    bearer token (tests/api/test_framework.py: a signed-in session gets 401 there), so no CSRF."""
    for rule in app.url_map.iter_rules():
        if ("POST" in rule.methods and rule.endpoint != "static" and rule.endpoint not in CSRF_EXEMPT
                and not rule.rule.startswith("/api/")):
            yield rule


def test_only_the_public_form_beacon_and_one_click_unsubscribe_are_exempt_from_csrf(app):
    from abmcontent.extensions import csrf

    exempt = {endpoint for endpoint in app.view_functions
              if f"{app.view_functions[endpoint].__module__}.{app.view_functions[endpoint].__name__}" in csrf._exempt_views}
    assert exempt == CSRF_EXEMPT


def test_anonymous_visitors_reach_only_public_pages(app, client):
    asset = make_asset(make_user())
    for path in ["/library", "/library/new", f"/library/{asset.id}", "/accounts", "/plans", "/dashboard",
                 f"/library/{asset.id}/history", "/library/coverage", "/landing", "/landing/1",
                 "/landing/1/preview"]:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_an_anonymous_htmx_request_is_redirected_whole_not_swapped(client):
    response = client.get("/library", headers=HX)
    assert response.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize("role", ["sales", "campaign"])
def test_sales_and_campaign_can_read_but_not_edit_content(client, role):
    asset = make_asset(make_user())
    login(client, make_user(role))
    assert client.get("/library").status_code == 200
    assert client.get(f"/library/{asset.id}").status_code == 200
    assert client.get("/library/new").status_code == 403
    assert client.get(f"/library/{asset.id}/edit").status_code == 403
    assert client.post(f"/library/{asset.id}/status", data={"to": "review"}).status_code == 403
    assert client.post(f"/library/{asset.id}/tags", data={"kind": "stage", "value": "decision", "present": "1"}).status_code == 403
    assert asset.status == "draft" and asset.stages == ["awareness"]


def test_admin_can_do_what_a_marketer_can(client):
    asset = make_asset(make_user())
    login(client, make_user("admin"))
    assert client.post(f"/library/{asset.id}/status", data={"to": "review"}).status_code == 303


@pytest.mark.csrf
def test_every_state_changing_route_refuses_a_request_without_a_csrf_token(app, client):
    user = make_user("admin")
    asset = make_asset(user)
    login(client, user)
    routes = list(_post_routes(app))
    assert len(routes) >= 10
    for rule in routes:
        path = rule.build({name: asset.id if name == "asset_id" else 1 for name in rule.arguments})[1]
        response = client.post(path, data={"to": "review"})
        assert response.status_code == 400, path
    assert asset.status == "draft"


@pytest.mark.csrf
def test_htmx_requests_pass_with_the_token_header_and_fail_without(app, client):
    user = make_user("marketer")
    asset = make_asset(user)
    login(client, user)
    token = csrf_token_from(client.get("/library").text)
    data = {"kind": "stage", "value": "decision", "present": "1"}
    refused = client.post(f"/library/{asset.id}/tags", headers=HX, data=data)
    assert refused.status_code == 400 and "Reload the page" in refused.text
    accepted = client.post(f"/library/{asset.id}/tags", headers={**HX, "X-CSRFToken": token}, data=data)
    assert accepted.status_code == 200 and asset.stages == ["awareness", "decision"]


def test_pages_carry_security_headers(client):
    login(client, make_user())
    response = client.get("/library")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_asset_content_is_escaped_everywhere_it_is_listed(client):
    user = make_user()
    make_asset(user, title="<script>alert('t')</script>", summary="<img src=x onerror=alert(1)>",
               body="<script>alert('b')</script>")
    login(client, user)
    for path in ["/library", "/library/1", "/library/1/history", "/library/1/revisions/1", "/library/1/edit"]:
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
