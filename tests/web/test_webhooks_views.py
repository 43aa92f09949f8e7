"""Integrations → Webhooks in the browser's terms: admins only, the secret shown once, a test
event and a redelivery against a real receiver, the delivery log with filters (htmx and plain),
and a stopped endpoint told to the admins."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from abmcontent import webhooks
from abmcontent.extensions import db
from abmcontent.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import NOW, csrf_token_from, login, make_user
from tests.webhook_receiver import Reply, allow_loopback, running

HX = {"HX-Request": "true"}
FORM = {"url": "https://hooks.example.com/abm", "description": "Salesforce", "events": ["form.filled",
                                                                                          "account.mqa_reached"]}


@pytest.fixture
def receiver():
    with running() as server:
        yield server


@pytest.fixture
def loopback(app):
    allow_loopback(app)
    return app


@pytest.fixture
def admin(client):
    user = make_user("admin")
    login(client, user)
    return user


def _made(admin, url="https://hooks.example.com/abm"):
    return webhooks.create_endpoint(webhooks.EndpointInput(url=url, description="CRM",
                                                           events=("form.filled",)), admin, NOW).endpoint


@pytest.mark.parametrize("role", ["marketer", "campaign", "sales"])
def test_only_admins_reach_the_webhook_pages(client, role):
    endpoint = _made(make_user("admin"))
    login(client, make_user(role))
    base = "/integrations/webhooks"
    for path in (base, f"{base}/{endpoint.id}"):
        assert client.get(path).status_code == 403, path
    for path in (base, f"{base}/{endpoint.id}", f"{base}/{endpoint.id}/test", f"{base}/{endpoint.id}/disable",
                 f"{base}/{endpoint.id}/rotate", f"{base}/{endpoint.id}/delete",
                 f"{base}/{endpoint.id}/deliveries/1/redeliver"):
        assert client.post(path, data=FORM).status_code == 403, path
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 1
    assert db.session.get(WebhookEndpoint, endpoint.id).active


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/integrations/webhooks")
    assert response.status_code == 302 and "/login" in response.location


def test_the_empty_page_says_what_to_do(client, admin):
    page = client.get("/integrations/webhooks").text
    assert "No webhook endpoints yet" in page and "send it a test event" in page
    assert "How to verify" in page and "webhook-signature" in page


def test_adding_an_endpoint_shows_its_secret_once(client, admin):
    response = client.post("/integrations/webhooks", data=FORM)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.secret in response.text and "shown only this once" in response.text
    assert 'data-copy="#webhook-secret"' in response.text
    assert endpoint.events == ["account.mqa_reached", "form.filled"] and endpoint.description == "Salesforce"
    again = client.get("/integrations/webhooks").text
    assert endpoint.secret not in again and "https://hooks.example.com/abm" in again and "Active" in again
    shown = client.get(f"/integrations/webhooks/{endpoint.id}").text
    assert endpoint.secret not in shown


def test_a_bad_endpoint_is_explained_and_kept_in_the_form(client, admin):
    response = client.post("/integrations/webhooks", data={"url": "http://10.0.0.7/hook", "description": "x"})
    assert response.status_code == 422
    assert "https://" in response.text and "Choose at least one" in response.text
    assert 'value="http://10.0.0.7/hook"' in response.text and 'aria-invalid="true"' in response.text
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 0


def test_editing_an_endpoint(client, admin):
    endpoint = _made(admin)
    response = client.post(f"/integrations/webhooks/{endpoint.id}", data={
        "url": "https://hooks.example.com/v2", "description": "CRM v2", "events": ["touchpoint.failed"]})
    assert response.status_code == 303
    db.session.expire_all()
    assert (endpoint.url, endpoint.description, endpoint.events) == ("https://hooks.example.com/v2", "CRM v2",
                                                                     ["touchpoint.failed"])
    bad = client.post(f"/integrations/webhooks/{endpoint.id}", data={"url": "https://user:pw@x.example/"})
    assert bad.status_code == 422 and "user name and password" in bad.text


def test_sending_a_test_event_tells_the_result(client, admin, loopback, receiver):
    endpoint = _made(admin, receiver.url())
    response = client.post(f"/integrations/webhooks/{endpoint.id}/test", follow_redirects=True)
    assert "Test event sent. Delivered: the endpoint answered 200." in response.text
    [got] = receiver.received
    assert webhooks.verify(endpoint.secret, got.headers, got.body, NOW.now(NOW.tzinfo))
    receiver.answer(Reply(500, b"<b>boom</b>"))
    page = client.post(f"/integrations/webhooks/{endpoint.id}/test", follow_redirects=True).text
    assert "Not delivered: The endpoint answered 500 Internal Server Error." in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom</b>" not in page  # the answer is shown, escaped


def test_the_delivery_log_filters_and_pages_through_htmx_and_without(client, admin):
    endpoint = _made(admin)
    for n in range(30):
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, message_id=f"msg_{n}", event="form.filled",
                                       payload="{}", status="failed" if n % 3 == 0 else "delivered", attempts=1,
                                       created_at=NOW + timedelta(minutes=n)))
    db.session.commit()
    page = client.get(f"/integrations/webhooks/{endpoint.id}").text
    assert "30 deliveries" in page and "msg_29" in page and "msg_4" not in page and "Page 1 of 2" in page
    fragment = client.get(f"/integrations/webhooks/{endpoint.id}?status=failed", headers=HX)
    assert "<html" not in fragment.text and 'id="deliveries"' in fragment.text
    assert "10 deliveries" in fragment.text and "msg_27" in fragment.text and "msg_28" not in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    plain = client.get(f"/integrations/webhooks/{endpoint.id}?status=failed&event=webhook.test").text
    assert "<html" in plain and "No deliveries match these filters" in plain
    assert client.get(f"/integrations/webhooks/{endpoint.id}?status=';drop&page=x").status_code == 200


def test_redelivering_swaps_the_row_with_htmx_or_comes_back_to_the_log(client, admin, loopback, receiver):
    endpoint = _made(admin, receiver.url())
    webhooks.emit("form.filled", {"n": 1}, NOW)
    db.session.commit()
    delivery = db.session.scalar(select(WebhookDelivery))
    path = f"/integrations/webhooks/{endpoint.id}/deliveries/{delivery.id}/redeliver"
    swapped = client.post(path, headers=HX, data={"status": "pending"})
    assert swapped.status_code == 200 and swapped.text.lstrip().startswith(f'<tr id="delivery-{delivery.id}"')
    assert "Delivered" in swapped.text and 'name="status" value="pending"' in swapped.text
    plain = client.post(path, data={"status": "delivered", "page": "1"})
    assert plain.status_code == 303 and plain.location.endswith(f"/{endpoint.id}?status=delivered&page=1")
    assert len(receiver.received) == 2 and len(set(receiver.ids())) == 1
    other = _made(admin, "https://elsewhere.example.com/hook")
    assert client.post(f"/integrations/webhooks/{other.id}/deliveries/{delivery.id}/redeliver").status_code == 404


def test_disable_enable_rotate_and_delete(client, admin):
    endpoint = _made(admin)
    client.post(f"/integrations/webhooks/{endpoint.id}/disable")
    db.session.expire_all()
    assert not endpoint.active and endpoint.disabled_reason == f"Disabled by {admin.email}."
    page = client.get("/integrations/webhooks").text
    assert "Disabled" in page and "were stopped" not in page  # an admin did it: no alarm
    client.post(f"/integrations/webhooks/{endpoint.id}/enable")
    db.session.expire_all()
    assert endpoint.active and endpoint.disabled_reason == ""
    old = endpoint.secret
    rotated = client.post(f"/integrations/webhooks/{endpoint.id}/rotate")
    db.session.expire_all()
    assert endpoint.secret != old and endpoint.secret in rotated.text and rotated.headers["Cache-Control"] == "no-store"
    gone = client.post(f"/integrations/webhooks/{endpoint.id}/delete")
    assert gone.status_code == 303 and gone.location.endswith("/integrations/webhooks")
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 0
    assert client.get(f"/integrations/webhooks/{endpoint.id}").status_code == 404


def test_an_endpoint_we_stopped_is_told_to_the_admins(client, admin, loopback, receiver):
    receiver.answer(Reply(410))
    endpoint = _made(admin, receiver.url())
    webhooks.emit("form.filled", {}, NOW)
    db.session.commit()
    webhooks.deliver_due(NOW)
    page = client.get("/integrations/webhooks").text
    assert re.search(r'role="alert">Deliveries to http://127\.0\.0\.1:\d+/hooks were stopped: The endpoint answered '
                     r'410 Gone: it no longer wants these events\.', page)
    assert "were stopped" in client.get(f"/integrations/webhooks/{endpoint.id}").text


def test_what_an_endpoint_sent_is_escaped(client, admin):
    endpoint = _made(admin)
    endpoint.description = "<script>alert(1)</script>"
    db.session.commit()
    for path in ("/integrations/webhooks", f"/integrations/webhooks/{endpoint.id}"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


@pytest.mark.csrf
def test_webhook_forms_need_the_csrf_token(app, client):
    admin = make_user("admin")
    login(client, admin)
    assert client.post("/integrations/webhooks", data=FORM).status_code == 400
    token = csrf_token_from(client.get("/integrations/webhooks").text)
    assert client.post("/integrations/webhooks", data={**FORM, "csrf_token": token}).status_code == 201
