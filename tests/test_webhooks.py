"""Outgoing webhooks against a real HTTP receiver on loopback: signatures a receiver can verify by
the documented algorithm, the retry schedule (explicit `now`), 410 and repeated failures disabling
an endpoint, SSRF refusals at delivery time, leases that keep two dispatchers from posting one
delivery twice (SQLite and PostgreSQL), and the three emit points telling each fact once."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from abmcontent import alerts, gating, milestones, touchpoints, tracking, webhooks
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import NOW, make_asset, make_landing_page, make_user
from tests.webhook_receiver import Reply, allow_loopback, running

EVENTS = ("account.mqa_reached", "form.filled", "touchpoint.failed")


@pytest.fixture
def receiver():
    with running() as server:
        yield server


@pytest.fixture
def loopback(app):
    allow_loopback(app)
    return app


def _endpoint(url: str, events=EVENTS, admin=None, description: str = "CRM"):
    admin = admin or make_user("admin")
    return webhooks.create_endpoint(webhooks.EndpointInput(url=url, description=description, events=tuple(events)),
                                    admin, NOW)


def _deliveries(endpoint_id=None) -> list[WebhookDelivery]:
    db.session.expire_all()
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    return list(db.session.scalars(query))


def _queue(n: int = 1, endpoint_id: int | None = None, event: str = "form.filled", **values) -> list[int]:
    """Deliveries straight into the outbox, as emit() leaves them."""
    ids = []
    for i in range(n):
        delivery = WebhookDelivery(endpoint_id=endpoint_id, message_id=f"msg_test{i}_{endpoint_id}", event=event,
                                   payload=webhooks.payload(event, {"n": i}, NOW), status="pending",
                                   attempts=values.get("attempts", 0), next_attempt_at=values.get("at", NOW),
                                   created_at=NOW)
        db.session.add(delivery)
        db.session.commit()
        ids.append(delivery.id)
    return ids


# --- endpoints ---------------------------------------------------------------------------------

def test_a_new_endpoint_gets_a_standard_webhooks_secret(app):
    made = _endpoint("https://hooks.example.com/abm")
    assert made.secret.startswith("whsec_") and len(base64.b64decode(made.secret[6:])) == 32
    assert made.endpoint.secret == made.secret and made.endpoint.active
    assert made.endpoint.url == "https://hooks.example.com/abm" and made.endpoint.events == list(EVENTS)
    again = webhooks.rotate_secret(made.endpoint.id, make_user("admin"))
    assert again.secret != made.secret and again.endpoint.secret == again.secret


def test_only_admins_manage_webhooks(app):
    endpoint = _endpoint("https://hooks.example.com/abm").endpoint
    data = webhooks.EndpointInput(url="https://hooks.example.com/other", events=("form.filled",))
    for role in ("marketer", "campaign", "sales"):
        user = make_user(role)
        for call in (lambda: webhooks.create_endpoint(data, user, NOW),
                     lambda: webhooks.update_endpoint(endpoint.id, data, user),
                     lambda: webhooks.set_active(endpoint.id, False, user, NOW),
                     lambda: webhooks.rotate_secret(endpoint.id, user),
                     lambda: webhooks.delete_endpoint(endpoint.id, user),
                     lambda: webhooks.send_test(endpoint.id, user, NOW)):
            with pytest.raises(PermissionDenied):
                call()
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 1


@pytest.mark.parametrize("url, message", [
    ("", "Enter the address"),
    ("http://hooks.example.com/abm", "https://"),
    ("ftp://hooks.example.com/abm", "https://"),
    ("https://user:secret@hooks.example.com/abm", "user name and password"),
    ("https://127.0.0.1/abm", "private network"),
    ("https://10.1.2.3/abm", "private network"),
    ("https://169.254.169.254/latest/meta-data", "private network"),
    ("https://[::1]/abm", "private network"),
    ("https://localhost:8443/abm", "private network"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com:99999/abm", "not valid"),
])
def test_endpoint_addresses_are_checked_when_saved(app, url, message):
    with pytest.raises(ValidationError, match=message) as raised:
        _endpoint(url)
    assert "url" in raised.value.errors


def test_events_must_be_chosen_from_the_list_and_descriptions_stay_on_one_line(app):
    with pytest.raises(ValidationError) as raised:
        _endpoint("https://hooks.example.com/abm", events=("account.deleted",), description="a\nb")
    assert set(raised.value.errors) == {"events", "description"}


# --- emit: the outbox --------------------------------------------------------------------------

def test_emit_queues_one_delivery_per_active_subscribed_endpoint_in_the_callers_transaction(app):
    admin = make_user("admin")
    wanted = _endpoint("https://a.example.com/hook", events=("form.filled",), admin=admin).endpoint
    _endpoint("https://b.example.com/hook", events=("touchpoint.failed",), admin=admin)
    off = _endpoint("https://c.example.com/hook", events=("form.filled",), admin=admin).endpoint
    webhooks.set_active(off.id, False, admin, NOW)
    assert webhooks.emit("form.filled", {"contact": {"id": 1}}, NOW) == 1
    db.session.rollback()  # the caller's change did not happen: neither did the event
    assert _deliveries() == []
    webhooks.emit("form.filled", {"contact": {"id": 1}}, NOW)
    db.session.commit()
    [delivery] = _deliveries()
    assert (delivery.endpoint_id, delivery.status, delivery.next_attempt_at) == (wanted.id, "pending", NOW)
    body = json.loads(delivery.payload)
    assert body == {"type": "form.filled", "timestamp": "2026-11-02T09:30:00.000Z", "data": {"contact": {"id": 1}}}
    with pytest.raises(ValueError):
        webhooks.emit("account.deleted", {}, NOW)


# --- signing and posting -----------------------------------------------------------------------

def _verify_by_the_book(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's side, written from the documentation (not with our signing code)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, part) for part in headers["webhook-signature"].split(" "))


def test_a_delivery_is_posted_signed_so_the_receiver_can_verify_it(app, loopback, receiver):
    made = _endpoint(receiver.url("/hooks?source=abm"))
    webhooks.emit("form.filled", {"contact": {"email": "nia@harborview.example", "first_name": "Nía"}}, NOW)
    db.session.commit()
    report = webhooks.deliver_due(NOW)
    assert (report.claimed, report.delivered) == (1, 1)
    [got] = receiver.received
    [delivery] = _deliveries()
    assert got.path == "/hooks?source=abm" and got.headers["content-type"] == "application/json"
    assert got.body == delivery.payload.encode("utf-8") and "Nía" in got.body.decode("utf-8")
    assert got.headers["webhook-id"] == delivery.message_id
    assert abs(int(got.headers["webhook-timestamp"]) - NOW.timestamp()) < 5
    assert _verify_by_the_book(made.secret, got.headers, got.body)
    assert webhooks.verify(made.secret, got.headers, got.body, NOW)
    assert not webhooks.verify(made.secret, got.headers, got.body + b" ", NOW)  # body changed
    assert not webhooks.verify(made.secret, got.headers, got.body, NOW + timedelta(minutes=6))  # a replay
    assert not webhooks.verify(webhooks.new_secret(), got.headers, got.body, NOW)
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.lease_until is None
    [attempt] = delivery.attempt_log
    assert (attempt.status_code, attempt.error, attempt.response_body) == (200, "", '{"ok":true}')


def test_failures_are_retried_on_the_schedule_with_jitter_then_given_up(app, loopback, receiver):
    receiver.default = Reply(500, b"database down")
    endpoint = _endpoint(receiver.url()).endpoint
    [delivery_id] = _queue(endpoint_id=endpoint.id)
    at = NOW
    for number, wait in enumerate(webhooks.RETRY_SCHEDULE, start=1):
        assert webhooks.deliver_due(at).retrying == 1
        delivery = db.session.get(WebhookDelivery, delivery_id)
        assert delivery.attempts == number and delivery.status == "pending"
        assert at + wait <= delivery.next_attempt_at <= at + wait * 1.2 + timedelta(seconds=1)
        assert webhooks.deliver_due(delivery.next_attempt_at - timedelta(seconds=2)).claimed == 0  # not yet
        at = delivery.next_attempt_at
    assert webhooks.deliver_due(at).failed == 1
    [delivery] = _deliveries()
    assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS == 8
    assert [a.status_code for a in delivery.attempt_log] == [500] * 8
    assert delivery.attempt_log[0].error == "The endpoint answered 500 Internal Server Error."
    assert delivery.attempt_log[0].response_body == "database down"
    assert webhooks.deliver_due(at + timedelta(days=3)).claimed == 0
    assert len(receiver.received) == 8 and len(set(receiver.ids())) == 1  # one id on every retry
    assert db.session.get(WebhookEndpoint, endpoint.id).active  # one failed delivery does not disable it


def test_retry_after_from_a_busy_endpoint_is_honoured(app, loopback, receiver):
    receiver.answer(Reply(429, b"", headers={"Retry-After": "900"}))
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(endpoint_id=endpoint.id)
    webhooks.deliver_due(NOW)
    [delivery] = _deliveries()
    assert delivery.next_attempt_at >= NOW + timedelta(seconds=900)


def test_410_gone_disables_the_endpoint(app, loopback, receiver):
    receiver.answer(Reply(410, b"unsubscribed"))
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(2, endpoint_id=endpoint.id)
    report = webhooks.deliver_due(NOW)
    assert report.disabled == [endpoint.id] and report.claimed == 1  # the second waits, not posted
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.active and "410 Gone" in endpoint.disabled_reason
    assert [d.status for d in _deliveries()] == ["failed", "pending"]
    assert webhooks.emit("form.filled", {}, NOW) == 0  # nothing more is queued for it
    assert webhooks.deliver_due(NOW + timedelta(hours=1)).claimed == 0
    assert len(receiver.received) == 1
    webhooks.set_active(endpoint.id, True, make_user("admin"), NOW + timedelta(hours=2))
    receiver.default = Reply(204, b"")
    assert webhooks.deliver_due(NOW + timedelta(hours=2)).delivered == 1  # what waited goes out


def test_failed_deliveries_in_a_row_disable_the_endpoint(app, loopback, receiver):
    app.config["WEBHOOKS_DISABLE_AFTER"] = 3
    receiver.default = Reply(503, b"")
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(4, endpoint_id=endpoint.id, attempts=webhooks.MAX_ATTEMPTS - 1)  # each on its last try
    at = NOW
    for _ in range(2):
        report = webhooks.deliver_due(at)
        assert (report.failed, report.claimed, report.disabled) == (1, 1, [])  # one failure holds the rest
        at += timedelta(seconds=10)
    report = webhooks.deliver_due(at)
    assert report.disabled == [endpoint.id]
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.active and endpoint.disabled_reason == "The last 3 deliveries all failed."
    assert [d.status for d in _deliveries()] == ["failed", "failed", "failed", "pending"]
    [row] = webhooks.endpoints_overview()
    assert row.auto_disabled and (row.waiting, row.failed) == (1, 3)


def test_an_endpoint_that_does_not_answer_in_time_costs_one_time_limit_per_pass(app, loopback, receiver):
    receiver.default = Reply(200, b"late", delay=2.0)
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(3, endpoint_id=endpoint.id)
    report = webhooks.deliver_due(NOW, timeout=0.3)
    assert (report.claimed, report.retrying) == (1, 1)
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.status_code is None and attempt.error == "The endpoint did not answer within 0.3 seconds."
    assert attempt.duration_ms < 1500


def test_redirects_are_not_followed(app, loopback, receiver):
    receiver.answer(Reply(302, b"", headers={"Location": "http://169.254.169.254/latest/meta-data"}))
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(endpoint_id=endpoint.id)
    webhooks.deliver_due(NOW)
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.status_code == 302 and "do not follow redirects" in attempt.error
    assert len(receiver.received) == 1


def test_only_the_start_of_a_large_answer_is_read_and_kept(app, loopback, receiver):
    receiver.answer(Reply(200, b"x" * 200_000))
    endpoint = _endpoint(receiver.url()).endpoint
    _queue(endpoint_id=endpoint.id)
    assert webhooks.deliver_due(NOW).delivered == 1
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.response_body == "x" * webhooks.RESPONSE_KEPT


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"])
def test_private_addresses_are_refused_when_posting(app, receiver, host):
    """As if the endpoint's name had started to resolve inside (saved rows skip today's check)."""
    app.config["WEBHOOKS_ALLOW_HTTP"] = True  # WEBHOOKS_ALLOW_PRIVATE stays off, as in production
    endpoint = WebhookEndpoint(url=f"http://{host}:{receiver.port}/hooks", description="", events=list(EVENTS),
                               secret=webhooks.new_secret(), active=True, disabled_reason="", created_at=NOW)
    db.session.add(endpoint)
    db.session.commit()
    _queue(endpoint_id=endpoint.id)
    assert webhooks.deliver_due(NOW).retrying == 1
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.status_code is None and "private network" in attempt.error
    assert receiver.received == []


def test_plain_http_is_refused_when_posting_unless_allowed(app, receiver):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    endpoint = WebhookEndpoint(url=receiver.url(), description="", events=list(EVENTS),
                               secret=webhooks.new_secret(), active=True, disabled_reason="", created_at=NOW)
    db.session.add(endpoint)
    db.session.commit()
    _queue(endpoint_id=endpoint.id)
    webhooks.deliver_due(NOW)
    assert "http:// addresses are not allowed" in db.session.scalar(select(WebhookAttempt.error))
    assert receiver.received == []


# --- leases ------------------------------------------------------------------------------------

def test_two_dispatchers_racing_post_each_delivery_once(any_db_app, receiver):
    allow_loopback(any_db_app)
    receiver.default = Reply(200, b"ok", delay=0.02)
    admin = make_user("admin")
    endpoints = [_endpoint(receiver.url(f"/{n}"), admin=admin).endpoint.id for n in range(2)]
    ids = [i for eid in endpoints for i in _queue(15, endpoint_id=eid)]
    db.session.remove()
    reports, start = [], threading.Barrier(2)

    def dispatcher():
        with any_db_app.app_context():
            start.wait()
            reports.append(webhooks.deliver_due(NOW))
            db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.claimed for r in reports) == len(ids) == 30
    assert sorted(receiver.ids()) == sorted(set(receiver.ids())) and len(receiver.ids()) == 30
    assert {d.status for d in _deliveries()} == {"delivered"}
    assert all(d.attempts == 1 and len(d.attempt_log) == 1 for d in _deliveries())


def test_a_dispatcher_that_died_holding_a_delivery_gives_it_back_when_its_lease_ends(app, loopback, receiver):
    endpoint = _endpoint(receiver.url()).endpoint
    [delivery_id] = _queue(endpoint_id=endpoint.id)
    d = WebhookDelivery.__table__
    dead_lease = NOW + webhooks.LEASE
    assert webhooks._claim(d.c.id == delivery_id, dead_lease) == delivery_id  # …and then it died
    assert webhooks.deliver_due(NOW + timedelta(minutes=1)).claimed == 0
    assert webhooks.deliver_due(NOW + webhooks.LEASE + timedelta(seconds=1)).delivered == 1
    # the dead dispatcher wakes up: its lease is gone, so what it would write is dropped
    claimed = webhooks._load(delivery_id)
    late = webhooks._record(claimed, dead_lease, webhooks.PostResult(500, "x"), NOW, webhooks._settings(), False)
    assert late.status == ""
    [delivery] = _deliveries()
    assert delivery.status == "delivered" and len(delivery.attempt_log) == 1 and len(receiver.received) == 1


# --- by hand ----------------------------------------------------------------------------------

def test_a_test_event_is_posted_at_once_and_not_retried(app, loopback, receiver):
    admin = make_user("admin")
    endpoint = _endpoint(receiver.url(), admin=admin).endpoint
    webhooks.set_active(endpoint.id, False, admin, NOW)  # a disabled endpoint can be tested before enabling
    receiver.answer(Reply(500, b"nope"))
    delivery = webhooks.send_test(endpoint.id, admin, NOW)
    assert delivery.event == "webhook.test" and delivery.status == "failed" and len(delivery.attempt_log) == 1
    assert json.loads(receiver.received[0].body)["data"]["sent_by"] == admin.email
    delivery = webhooks.send_test(endpoint.id, admin, NOW)
    assert delivery.status == "delivered"
    webhooks.set_active(endpoint.id, True, admin, NOW)
    assert webhooks.deliver_due(NOW + timedelta(days=1)).claimed == 0
    assert len(receiver.received) == 2


def test_redelivery_posts_again_now_with_the_same_id(app, loopback, receiver):
    admin = make_user("admin")
    endpoint = _endpoint(receiver.url(), admin=admin).endpoint
    [delivery_id] = _queue(endpoint_id=endpoint.id)
    webhooks.deliver_due(NOW)
    delivery = webhooks.redeliver(endpoint.id, delivery_id, admin, NOW + timedelta(hours=1))
    assert delivery.status == "delivered" and delivery.attempts == 2 and len(delivery.attempt_log) == 2
    assert receiver.ids()[0] == receiver.ids()[1] == delivery.message_id
    receiver.answer(Reply(500))
    delivery = webhooks.redeliver(endpoint.id, delivery_id, admin, NOW + timedelta(hours=2))
    assert delivery.status == "failed"  # a hand-made attempt on a finished delivery is not retried
    with pytest.raises(PermissionDenied):
        webhooks.redeliver(endpoint.id, delivery_id, make_user("sales"), NOW)


# --- the emit points ---------------------------------------------------------------------------

def test_an_account_that_becomes_an_mqa_is_told_once(any_db_app):
    app = any_db_app
    owner = make_user("sales", email="owner@cobalt.example")
    endpoint = _endpoint("https://crm.example.com/hook", events=("account.mqa_reached",)).endpoint
    account = Account(name="Harborview Bank", domain="harborview.example", tier=1, owner_id=owner.id,
                      industry="financials", country="US")
    db.session.add(account)
    db.session.commit()
    first = NOW - timedelta(hours=5)
    for n in range(3):
        tracking.record("form_fill", app=app, account_id=account.id, occurred_at=first + timedelta(hours=n),
                        channel="web")
    tracking.flush(app)
    alerts.evaluate(NOW)
    alerts.evaluate(NOW + timedelta(minutes=1))
    assert milestones.reach("mqa", {account.id: NOW + timedelta(minutes=2)}) == 0
    [delivery] = _deliveries(endpoint.id)
    body = json.loads(delivery.payload)
    assert body["type"] == "account.mqa_reached"
    assert body["data"]["account"] == {"id": account.id, "name": "Harborview Bank", "domain": "harborview.example",
                                       "tier": 1, "industry": "financials", "country": "US",
                                       "journey_stage": "awareness", "owner_email": "owner@cobalt.example"}
    assert body["data"]["score"] == 45.0 and body["data"]["reached_at"] == "2026-11-02T09:30:00.000Z"


def _gated(user):
    asset = make_asset(user, status="published", gated=True, title="The governance blueprint")
    page = make_landing_page(user, holdout_percent=0)
    return page, asset


def test_a_filled_form_is_told_once_with_the_fields_submitted(app):
    user = make_user("marketer")
    page, asset = _gated(user)
    _endpoint("https://crm.example.com/hook", events=("form.filled",))
    data = gating.GateInput(email="Nia@NewCo.example", first_name="Nia", last_name="Okafor", company="NewCo",
                            title="Head of Data", persona="champion", consent=True)
    result = gating.submit(page, asset, data, "I agree.", None, NOW)
    [delivery] = _deliveries()
    body = json.loads(delivery.payload)["data"]
    assert body["contact"]["id"] == result.contact.id and body["contact"]["email"] == "nia@newco.example"
    assert body["account"]["id"] == result.account.id and body["account"]["domain"] == "newco.example"
    assert body["landing_page"]["slug"] == page.slug and body["asset"]["id"] == asset.id
    assert body["form"] == {"email": "nia@newco.example", "first_name": "Nia", "last_name": "Okafor",
                            "company": "NewCo", "title": "Head of Data", "persona": "champion", "consent": True}
    assert body["new_contact"] and body["new_account"] and body["consent_recorded"]
    assert "website" not in body["form"]  # the honeypot is not a field anyone submitted
    gating.submit(page, asset, gating.GateInput(email="someone@gmail.com"), "I agree.", None, NOW)
    assert len(_deliveries()) == 1  # free mail: nothing about them is kept, nor sent


def test_a_failed_touchpoint_is_told_once_in_the_transaction_that_failed_it(any_db_app):
    endpoint = _endpoint("https://crm.example.com/hook", events=("touchpoint.failed",)).endpoint
    account = Account(name="Harborview Bank", domain="harborview.example", tier=2)
    contact = Contact(account=account, first_name="Priya", last_name="Raman", email="priya@harborview.example")
    db.session.add_all([account, contact])
    db.session.commit()
    made = [touchpoints.schedule(account_id=account.id, contact_id=contact.id, channel="email", due_at=NOW,
                                 window_end_at=NOW + timedelta(hours=8), key=f"k{n}", now=NOW) for n in range(2)]
    ids = touchpoints.claim_due(NOW, "worker-a")
    assert touchpoints.mark_failed(ids[0], "worker-a", "SMTP 550 5.1.1 no such user", NOW)
    assert not touchpoints.mark_failed(ids[0], "worker-a", "again", NOW)  # finished already: nothing new
    assert not touchpoints.mark_failed(ids[1], "worker-b", "not mine", NOW)  # another worker's claim
    touchpoints.mark_sent(ids[1], "worker-a", "<id@x>", NOW)
    [delivery] = _deliveries(endpoint.id)
    body = json.loads(delivery.payload)["data"]
    assert body["touchpoint"]["id"] == made[0].id and body["touchpoint"]["channel"] == "email"
    assert body["reason"] == "SMTP 550 5.1.1 no such user"
    assert body["contact"]["email"] == "priya@harborview.example" and body["account"]["name"] == "Harborview Bank"
    assert body["plan"] is None and body["step"] is None


def test_no_endpoint_no_rows(app):
    assert webhooks.emit("touchpoint.failed", {"x": 1}, NOW) == 0
    assert webhooks.emit_mqa_reached({1: NOW}, None, NOW) == 0
    assert _deliveries() == []


def test_stored_errors_are_said_in_the_readers_language(app):
    from flask_babel import force_locale

    english = "The endpoint did not answer within 10 seconds."
    assert webhooks.say(english) == english
    with force_locale("ko"):
        assert webhooks.say("something else") == "something else"
    assert webhooks.by_admin("Disabled by admin@x.example.") and not webhooks.by_admin(english)

