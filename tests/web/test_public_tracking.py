"""The open pixel, tracked links and the beacon answered in front of Flask (web.public.TrackingEndpoints):
the same answers and the same events as the views, and everything unusual still reaches the views."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask import request_started
from sqlalchemy import select
from werkzeug.test import Client

from abmcontent import tracking
from abmcontent.channels.email import tracking_token
from abmcontent.extensions import db
from abmcontent.models import Contact, EngagementEvent, Touchpoint, TrackedLink
from abmcontent.web.public import TrackingEndpoints
from tests.conftest import make_landing_page, make_user
from tests.test_accounts import make_account
from tests.web.test_public import _setup, _visit_param

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15"
COLUMNS = ("type", "account_id", "contact_id", "asset_id", "landing_page_id", "visit", "variant", "value",
           "channel", "user_agent", "detail", "machine", "touchpoint_id")


def _sent_email(url: str = "https://cobaltdata.example/guide?x=1&y=2"):
    """A contact, an email sent to them yesterday, and a tracked link in it."""
    account = make_account(name="Northwind Insurance", domains=["northwind.example"])
    contact = Contact(account=account, first_name="Jon", last_name="Berg", email="jon@northwind.example")
    db.session.add(contact)
    db.session.commit()
    sent = datetime.now(timezone.utc) - timedelta(days=1)
    touchpoint = Touchpoint(account_id=account.id, contact_id=contact.id, channel="email", subject="Hello",
                            due_at=sent, window_end_at=sent + timedelta(hours=8), status="sent",
                            idempotency_key=f"t-{contact.id}", sent_at=sent, created_at=sent, updated_at=sent)
    db.session.add(touchpoint)
    db.session.commit()
    link = TrackedLink(touchpoint_id=touchpoint.id, url=url)
    db.session.add(link)
    db.session.commit()
    return contact, touchpoint, link


def _flask_only(app) -> Client:
    """A client of the app without TrackingEndpoints in front: the views answer everything."""
    assert isinstance(app.wsgi_app, TrackingEndpoints)
    return Client(app.wsgi_app.wsgi_app, app.response_class)


def _events(app) -> list[tuple]:
    tracking.flush(app)
    rows = [tuple(getattr(row, name) for name in COLUMNS)
            for row in db.session.scalars(select(EngagementEvent).order_by(EngagementEvent.id))]
    db.session.execute(EngagementEvent.__table__.delete())  # the next look starts empty
    db.session.commit()
    return rows


def _answer(response) -> tuple:
    return response.status, sorted(response.headers.items()), response.get_data()


@pytest.fixture
def flask_requests(app):
    seen = []

    def count(sender, **extra):
        seen.append(1)

    with request_started.connected_to(count, app):
        yield seen


def test_pixels_links_and_beacons_get_the_answers_and_events_the_views_give(app, client, flask_requests):
    contact, touchpoint, link = _sent_email()
    page, _acct, _contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    _events(app)
    pixel, click = tracking_token("test-secret", touchpoint.id), tracking_token("test-secret", link.id)
    asks = [
        ("GET", f"/o/{pixel}.gif", {}, None),
        ("GET", f"/o/{pixel}.gif", {"DNT": "1"}, None),
        ("GET", f"/o/{pixel}.gif", {"User-Agent": "Mozilla/5.0"}, None),  # Apple Mail Privacy Protection
        ("HEAD", f"/o/{pixel}.gif", {}, None),
        ("GET", "/o/forged.gif", {}, None),
        ("GET", f"/o/{pixel[:-2]}xx.gif", {}, None),
        ("GET", f"/r/{click}", {}, None),
        ("GET", f"/r/{click}", {"Sec-GPC": "1"}, None),
        ("HEAD", f"/r/{click}", {}, None),
        ("GET", f"/r/{click}", {"User-Agent": "python-requests/2.32"}, None),
        ("POST", "/p/beacon", {}, {"v": v, "s": "42.25"}),
        ("POST", "/p/beacon", {}, {"v": v, "s": "12", "a": "7"}),
        ("POST", "/p/beacon", {}, {"v": v + "x", "s": "12"}),
        ("POST", "/p/beacon", {}, {"v": v, "s": "lots"}),
        ("POST", "/p/beacon", {}, {"s": "12"}),
    ]
    flask = _flask_only(app)
    through_flask = len(flask_requests)
    for method, path, headers, form in asks:
        headers = {"User-Agent": BROWSER, **headers}
        fast = _answer(client.open(path, method=method, headers=headers, data=form))
        fast_events = _events(app)
        slow = _answer(flask.open(path, method=method, headers=headers, data=form))
        slow_events = _events(app)
        assert fast == slow, (method, path, headers)
        assert fast_events == slow_events, (method, path, headers)
    assert len(flask_requests) - through_flask == len(asks)  # the Flask-only client's: the others never got there


def test_in_front_of_flask_the_events_carry_the_person_the_machine_flag_and_the_email(app, client, flask_requests):
    contact, touchpoint, link = _sent_email()
    pixel, click = tracking_token("test-secret", touchpoint.id), tracking_token("test-secret", link.id)
    assert client.get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER}).data.startswith(b"GIF89a")
    assert client.get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER, "DNT": "1"}).status_code == 200
    answer = client.get(f"/r/{click}?url=https://evil.example", headers={"User-Agent": BROWSER})
    assert answer.status_code == 302 and answer.headers["Location"] == "https://cobaltdata.example/guide?x=1&y=2"
    scanned = client.head(f"/r/{click}", headers={"User-Agent": BROWSER})
    assert scanned.status_code == 302 and scanned.data == b""
    assert client.get("/o/forged.gif").data.startswith(b"GIF89a")
    assert flask_requests == []  # none of these went through Flask's request cycle
    events = [(e[0], e[2], e[11], e[12]) for e in _events(app)]
    assert events == [("email_open", contact.id, "", touchpoint.id), ("email_open", None, "", touchpoint.id),
                      ("email_click", contact.id, "", touchpoint.id),
                      ("email_click", contact.id, "head_request", touchpoint.id)]


def test_an_unknown_link_and_other_methods_still_get_flasks_answers(app, client, flask_requests):
    missing = client.get("/r/forged")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
    assert client.post("/o/forged.gif").status_code == 405
    assert client.get("/p/beacon").status_code in (404, 405)
    assert client.get("/o/with%20space.gif").data.startswith(b"GIF89a")  # not a token's characters
    assert len(flask_requests) == 4
    assert _events(app) == []


def test_a_beacon_that_is_not_a_small_urlencoded_form_is_answered_by_the_view(app, client, flask_requests):
    page, acct, contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    _events(app)  # the page view
    flask_requests.clear()
    assert client.post("/p/beacon", data={"v": v, "s": "30", "file": (__import__("io").BytesIO(b"x"), "x.txt")},
                       content_type="multipart/form-data").status_code == 204
    padded = {"v": v, "s": "15", "padding": "x" * 5000}
    assert client.post("/p/beacon", data=padded).status_code == 204
    assert client.post("/p/beacon", data={"v": v, "s": "5"}).status_code == 204
    assert len(flask_requests) == 2  # the multipart and the oversized one
    values = [(e[0], e[1], e[2], e[7]) for e in _events(app)]
    assert values == [("time_on_page", acct.id, contact.id, 30.0), ("time_on_page", acct.id, contact.id, 15.0),
                      ("time_on_page", acct.id, contact.id, 5.0)]


@pytest.mark.parametrize("seconds", ["nan", "NaN", "-nan"])
def test_a_beacon_claiming_not_a_number_of_seconds_records_nothing(app, client, seconds):
    page, acct, contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    _events(app)
    assert client.post("/p/beacon", data={"v": v, "s": seconds}).status_code == 204
    assert _flask_only(app).post("/p/beacon", data={"v": v, "s": seconds}).status_code == 204
    assert client.post("/p/beacon", data={"v": v, "s": "inf"}).status_code == 204
    assert [(e[0], e[7]) for e in _events(app)] == [("time_on_page", 14400.0)]  # inf: the 4-hour cap, as before


def test_pixels_links_and_beacons_keep_answering_while_the_events_table_is_away(app, client):
    contact, touchpoint, link = _sent_email()
    page = make_landing_page(make_user("marketer"), slug="offer", holdout_percent=0)
    v = _visit_param(client.get(f"/p/{page.slug}").get_data(as_text=True))
    pixel, click = tracking_token("test-secret", touchpoint.id), tracking_token("test-secret", link.id)
    _events(app)  # the page view
    db.session.execute(db.text("ALTER TABLE engagement_events RENAME TO engagement_events_away"))
    db.session.commit()
    try:
        for _ in range(3):
            assert client.get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER}).status_code == 200
            assert client.get(f"/r/{click}", headers={"User-Agent": BROWSER}).status_code == 302
            assert client.post("/p/beacon", data={"v": v, "s": "3"}).status_code == 204
        tracking.flush(app, timeout=2)
        assert tracking.pending(app)["spool_files"] >= 1
    finally:
        db.session.execute(db.text("ALTER TABLE engagement_events_away RENAME TO engagement_events"))
        db.session.commit()
    kinds = sorted(e[0] for e in _events(app))
    assert kinds == ["email_click"] * 3 + ["email_open"] * 3 + ["time_on_page"] * 3
    assert tracking.pending(app)["spool_files"] == 0


def test_the_tracking_answers_are_in_front_of_every_app_once(app):
    layers = 0
    wsgi = app.wsgi_app
    while isinstance(wsgi, TrackingEndpoints):
        layers, wsgi = layers + 1, wsgi.wsgi_app
    assert layers == 1 and callable(wsgi)


def test_a_pixel_needs_no_database_in_the_request_and_its_open_is_stored_when_the_touchpoints_are_back(
        app, client, flask_requests):
    contact, touchpoint, _link = _sent_email()
    pixel, touchpoint_id = tracking_token("test-secret", touchpoint.id), touchpoint.id
    db.session.execute(db.text("ALTER TABLE touchpoints RENAME TO touchpoints_away"))
    db.session.commit()
    try:
        answer = client.get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER})
        assert answer.status_code == 200 and answer.data.startswith(b"GIF89a")
        assert flask_requests == []  # answered in front of Flask, no error handed on
        tracking.flush(app, timeout=2)
    finally:
        db.session.execute(db.text("ALTER TABLE touchpoints_away RENAME TO touchpoints"))
        db.session.commit()
    assert [(e[0], e[2], e[12]) for e in _events(app)] == [("email_open", contact.id, touchpoint_id)]
