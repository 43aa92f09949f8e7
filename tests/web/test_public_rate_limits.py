"""Rate limits on the public endpoints (issue 7): pages and forms answer 429 in words, a tracked link or a
call to action still goes on and a pixel still answers (recording nothing), a beacon gets a 429; counted
per client address, as ProxyFix resolves it, also in front of Flask."""
from __future__ import annotations

import io
import re
import shutil

import pytest
from sqlalchemy import select

from abmcontent import create_app, tracking
from abmcontent.channels.email import tracking_token, unsubscribe_token
from abmcontent.extensions import db
from abmcontent.models import EngagementEvent
from tests.conftest import _config, make_asset, make_landing_page, make_user
from tests.web.test_public import _setup, _visit_param
from tests.web.test_public_tracking import BROWSER, _flask_only, _sent_email


def _limit(app, **limits):
    app.config["RATE_LIMITS"] = limits


def _kinds(app) -> list[str]:
    tracking.flush(app)
    return [e.type for e in db.session.scalars(select(EngagementEvent).order_by(EngagementEvent.id))]


class _views:
    """The views alone (TrackingEndpoints skipped), from the address the Flask test client uses."""

    def __init__(self, app) -> None:
        self.client = _flask_only(app)

    def get(self, *args, **kwargs):
        return self.client.get(*args, environ_base={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)

    def post(self, *args, **kwargs):
        return self.client.post(*args, environ_base={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)


def _retry_after(response) -> int:
    return int(response.headers["Retry-After"])


def test_a_visitor_over_the_page_limit_gets_a_short_page_in_words_with_retry_after(app, client):
    page = make_landing_page(holdout_percent=0)
    _limit(app, page="2/minute")
    assert [client.get(f"/p/{page.slug}").status_code for _ in range(2)] == [200, 200]
    refused = client.get(f"/p/{page.slug}")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Please wait a moment" in html and "Please try again in" in html and "Traceback" not in html
    assert 0 < _retry_after(refused) <= 60
    assert refused.headers["RateLimit-Limit"] == "2" and refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["Referrer-Policy"] == "same-origin" and "Set-Cookie" not in refused.headers
    assert client.get(f"/p/{page.slug}", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200
    assert _kinds(app) == ["page_view"] * 3  # the refused view recorded nothing


def test_the_429_page_is_in_the_landing_pages_language(app, client):
    page = make_landing_page(slug="korean", language="ko", holdout_percent=0)
    _limit(app, page="1/minute")
    client.get(f"/p/{page.slug}")
    refused = client.get(f"/p/{page.slug}")
    assert refused.status_code == 429 and '<html lang="ko">' in refused.get_data(as_text=True)


def test_asset_pages_downloads_forms_and_unsubscribing_answer_429_over_their_limits(app, client):
    user = make_user("marketer")
    item = make_asset(user, status="published", slug="guide")
    page = make_landing_page(user, holdout_percent=0)
    contact = _sent_email()[0]
    _limit(app, asset="1/minute", form="1/minute", unsubscribe="1/minute")
    assert client.get(f"/p/{page.slug}/a/{item.slug}").status_code == 200
    assert client.get(f"/p/{page.slug}/a/{item.slug}").status_code == 429
    assert client.get(f"/p/{page.slug}/a/{item.slug}/files/1").status_code == 429  # the same limit
    form = {"asset": str(item.id), "email": "x@example.com"}
    assert client.post(f"/p/{page.slug}/form/0", data=form).status_code != 429
    assert client.post(f"/p/{page.slug}/form/0", data=form).status_code == 429
    token = unsubscribe_token("test-secret", contact.id)
    assert client.get(f"/u/{token}").status_code == 200
    refused = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 429 and _retry_after(refused) > 0
    db.session.refresh(contact)
    assert contact.unsubscribed_at is None  # refused means nothing was done


def test_over_the_limit_a_tracked_link_still_redirects_but_records_nothing(app, client):
    _contact, _touchpoint, link = _sent_email()
    click = tracking_token("test-secret", link.id)
    _limit(app, click="1/minute")
    answers = [client.get(f"/r/{click}", headers={"User-Agent": BROWSER}),
               client.get(f"/r/{click}", headers={"User-Agent": BROWSER}),
               _views(app).get(f"/r/{click}", headers={"User-Agent": BROWSER})]
    assert [a.status_code for a in answers] == [302, 302, 302]
    assert {a.headers["Location"] for a in answers} == {link.url}
    assert _kinds(app) == ["email_click"]


def test_over_the_limit_a_pixel_still_answers_its_gif_but_records_nothing(app, client):
    _contact, touchpoint, _link = _sent_email()
    pixel = tracking_token("test-secret", touchpoint.id)
    _limit(app, pixel="2/minute")
    answers = [client.get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER}) for _ in range(3)]
    answers.append(_views(app).get(f"/o/{pixel}.gif", headers={"User-Agent": BROWSER}))
    assert [(a.status_code, a.data[:6]) for a in answers] == [(200, b"GIF89a")] * 4
    assert _kinds(app) == ["email_open"] * 2


def test_over_the_limit_a_beacon_gets_429_and_records_nothing(app, client):
    page, _acct, _contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    _limit(app, beacon="1/minute")
    assert client.post("/p/beacon", data={"v": v, "s": "30"}).status_code == 204
    refused = client.post("/p/beacon", data={"v": v, "s": "30"})
    assert refused.status_code == 429 and 0 < _retry_after(refused) <= 60
    assert _views(app).post("/p/beacon", data={"v": v, "s": "30"}).status_code == 429
    assert _kinds(app) == ["page_view", "time_on_page"]


def test_over_the_limit_a_call_to_action_still_goes_on_but_records_nothing(app, client):
    page, _acct, _contact, token = _setup()
    html = client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True)
    go = re.search(r'href="(/p/[^"]+/go/[^"]+)"', html).group(1).replace("&amp;", "&")
    _limit(app, cta="1/minute")
    answers = [client.get(go) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert _kinds(app) == ["page_view", "cta_click"]


def test_a_request_handed_on_by_the_tracking_endpoints_is_counted_once(app, client):
    page, _acct, _contact, token = _setup()
    v = _visit_param(client.get(f"/p/{page.slug}?t={token}").get_data(as_text=True))
    _limit(app, beacon="1/minute")
    multipart = client.post("/p/beacon", data={"v": v, "s": "30", "file": (io.BytesIO(b"x"), "x.txt")},
                            content_type="multipart/form-data")  # not for the fast path: the view answers it
    assert multipart.status_code == 204
    assert _kinds(app) == ["page_view", "time_on_page"]


@pytest.fixture
def proxied(tmp_path, sqlite_template):
    """The app behind one trusted proxy (TRUSTED_PROXIES=1)."""
    db_file = tmp_path / "proxy.db"
    shutil.copy(sqlite_template, db_file)
    app = create_app(_config(tmp_path, f"sqlite:///{db_file}", TRUSTED_PROXIES=1))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_behind_a_trusted_proxy_each_visitor_is_counted_by_their_own_address(proxied):
    client = proxied.test_client()
    _contact, touchpoint, _link = _sent_email()
    page = make_landing_page(holdout_percent=0)
    pixel = tracking_token("test-secret", touchpoint.id)
    _limit(proxied, page="1/minute", pixel="1/minute")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def view(visitor):
        return client.get(f"/p/{page.slug}", headers={"X-Forwarded-For": visitor}, environ_base=proxy).status_code

    def open_(visitor):
        client.get(f"/o/{pixel}.gif", headers={"X-Forwarded-For": visitor, "User-Agent": BROWSER}, environ_base=proxy)

    assert [view("198.51.100.7"), view("198.51.100.7"), view("203.0.113.5")] == [200, 429, 200]
    open_("198.51.100.7")
    open_("198.51.100.7")  # over: nothing
    open_("203.0.113.5")   # someone else behind the same proxy: recorded (counted in front of Flask too)
    assert _kinds(proxied).count("email_open") == 2


def test_without_trusted_proxies_x_forwarded_for_cannot_dodge_a_limit(app, client):
    page = make_landing_page(holdout_percent=0)
    _limit(app, page="1/minute")
    assert client.get(f"/p/{page.slug}", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert client.get(f"/p/{page.slug}", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 429
