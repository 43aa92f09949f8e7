"""Account news: feeds read from a real HTTP server on loopback (new, repeated, changed, broken)."""
from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from abmcontent import alerts, engagement, news, scheduler, tracking
from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import AccountFeed, Alert, NewsItem
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account

HOUR = timedelta(hours=1)


# --- a feed server on loopback ------------------------------------------------------------------

class FeedServer:
    """http.server in a thread. `routes[path]` is (status, headers, body) or a function of the
    request handler returning one; every request is recorded with its headers."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                with server.lock:
                    server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path, (404, {}, b"not here"))
                if callable(route):
                    route = route(self)
                    if route is None:  # the function answered itself
                        return
                status, headers, body = route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def hits(self, path: str) -> list[dict]:
        with self.lock:
            return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def loopback(app):
    """Tests read feeds from 127.0.0.1, which production refuses (NEWS_ALLOW_PRIVATE is off)."""
    app.config["NEWS_ALLOW_PRIVATE"] = True
    return app


def rss(items, title="Harborview Bank newsroom") -> bytes:
    """RSS 2.0; items are (guid, title, published datetime or None) or dicts of raw XML fields."""
    parts = []
    for item in items:
        if isinstance(item, dict):
            parts.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>")
            continue
        guid, headline, published = item
        date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
        parts.append(f"<item><guid isPermaLink=\"false\">{guid}</guid><title>{escape(headline)}</title>"
                     f"<link>https://news.example/{guid}</link><description>About {escape(headline)}</description>"
                     f"{date}</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://harborview.example/news</link>{''.join(parts)}</channel></rss>").encode()


XML = {"Content-Type": "application/rss+xml; charset=utf-8"}


def owned_account():
    owner = make_user("sales")
    return make_account(owner_id=owner.id), owner


def watch(account, url, user=None):
    return news.add_feed(account.id, url, user or make_user("campaign"), NOW)


def read(now=NOW, **kwargs):
    kwargs.setdefault("timeout", 2.0)
    return news.read_due(now, **kwargs)


def days_ago(days):
    return NOW - timedelta(days=days)


# --- reading feeds ----------------------------------------------------------------------------------

def test_a_new_feed_keeps_every_item_and_alerts_the_owner_about_the_newest_three(loopback, feed_server):
    account, owner = owned_account()
    items = [(f"g{n}", f"Headline {n}", days_ago(n)) for n in range(1, 6)]
    feed_server.routes["/feed"] = (200, {**XML, "ETag": '"v1"'}, rss(items))
    feed = watch(account, feed_server.url("/feed"))
    report = read()
    assert (report.claimed, report.ok, report.new_items, report.alerts) == (1, 1, 5, 3)
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 5
    told = [a.params["title"] for a in db.session.scalars(select(Alert).order_by(Alert.id))]
    assert sorted(told) == ["Headline 1", "Headline 2", "Headline 3"]
    assert {a.user_id for a in db.session.scalars(select(Alert))} == {owner.id}
    db.session.refresh(feed)
    assert (feed.last_status, feed.title, feed.etag, feed.failures) == ("ok", "Harborview Bank newsroom", '"v1"', 0)
    assert feed.next_check_at == NOW + HOUR and feed.lease_until is None
    headers = feed_server.hits("/feed")[0]
    assert headers["user-agent"].startswith("abmcontent-news/") and "if-none-match" not in headers


def test_a_google_alerts_atom_feed_is_read_with_the_article_link_and_plain_titles(loopback, feed_server):
    account, _owner = owned_account()
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
      <title>Google Alert - Harborview Bank</title><updated>2026-11-02T08:00:00Z</updated>
      <entry><id>tag:google.com,2013:googlealerts/feed:1</id>
        <title type="html">&lt;b&gt;Harborview Bank&lt;/b&gt; picks a new data platform</title>
        <link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://finance.example/harborview&amp;ct=ga"/>
        <published>2026-11-01T10:00:00Z</published>
        <content type="html">The &lt;b&gt;bank&lt;/b&gt; said on Monday&amp;nbsp;it would migrate.</content></entry>
    </feed>"""
    feed_server.routes["/alerts"] = (200, {"Content-Type": "application/atom+xml"}, atom)
    watch(account, feed_server.url("/alerts"))
    assert read().new_items == 1
    item = db.session.scalar(select(NewsItem))
    assert item.title == "Harborview Bank picks a new data platform"
    assert item.link == "https://finance.example/harborview"
    assert item.summary == "The bank said on Monday it would migrate."
    assert item.published_at == datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
    assert item.feed.title == "Google Alert - Harborview Bank"


def test_an_unchanged_feed_is_asked_with_its_validators_and_answers_304_with_nothing_new(loopback, feed_server):
    account, _owner = owned_account()
    stamp = "Mon, 02 Nov 2026 08:00:00 GMT"

    def conditional(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {**XML, "ETag": '"v1"', "Last-Modified": stamp}, rss([("a", "One", days_ago(1))])

    feed_server.routes["/feed"] = conditional
    feed = watch(account, feed_server.url("/feed"))
    assert read().new_items == 1
    assert read(NOW + 30 * timedelta(minutes=1)).claimed == 0  # not due before the hour
    report = read(NOW + HOUR)
    assert (report.claimed, report.not_modified, report.new_items, report.alerts) == (1, 1, 0, 0)
    second = feed_server.hits("/feed")[1]
    assert second["if-none-match"] == '"v1"' and second["if-modified-since"] == stamp
    db.session.refresh(feed)
    assert (feed.last_status, feed.next_check_at, feed.etag) == ("not_modified", NOW + 2 * HOUR, '"v1"')
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 1


def test_only_the_new_item_is_new_and_it_is_alerted_once(loopback, feed_server):
    account, owner = owned_account()
    first = [("a", "One", days_ago(3)), ("b", "Two", days_ago(2))]
    feed_server.routes["/feed"] = (200, XML, rss(first))
    watch(account, feed_server.url("/feed"))
    assert read().alerts == 2
    feed_server.routes["/feed"] = (200, XML, rss([("c", "Three", NOW - HOUR), *first]))
    report = read(NOW + HOUR)
    assert (report.new_items, report.alerts) == (1, 1)
    again = read(NOW + 2 * HOUR)  # the same feed once more: nothing new, no second alert
    assert (again.ok, again.new_items, again.alerts) == (1, 0, 0)
    newest = db.session.scalar(select(NewsItem).where(NewsItem.title == "Three"))
    alert = db.session.scalar(select(Alert).where(Alert.key == f"news:{newest.id}"))
    assert alert.kind == "news" and alert.user_id == owner.id
    assert alerts.say(alert) == "News about Harborview Bank: Three"
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 3


def test_a_first_read_that_failed_still_counts_as_the_first_read_once_it_works(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (500, {}, b"down")
    watch(account, feed_server.url("/feed"))
    assert read().errors == 1
    feed_server.routes["/feed"] = (200, XML, rss([(f"g{n}", f"Item {n}", days_ago(n)) for n in range(1, 9)]))
    report = read(NOW + 3 * HOUR)
    assert (report.new_items, report.alerts) == (8, 3)


def test_an_account_without_an_owner_gets_news_but_nobody_is_alerted(loopback, feed_server):
    account = make_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "One", days_ago(1))]))
    watch(account, feed_server.url("/feed"))
    assert (read().new_items, db.session.scalar(select(func.count()).select_from(Alert))) == (1, 0)


def test_hostile_titles_become_plain_text_and_unsafe_links_are_dropped(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([
        {"guid": "x1", "title": "&lt;script&gt;alert(1)&lt;/script&gt;Harborview &amp;amp; Co &lt;b&gt;wins&lt;/b&gt;",
         "link": "javascript:alert(document.cookie)",
         "description": "&lt;img src=x onerror=alert(2)&gt;&lt;p&gt;Big &lt;i&gt;news&lt;/i&gt;&lt;/p&gt;"},
        {"guid": "x2", "title": "Data\u202eplatform\n\t now", "link": "data:text/html,&lt;script&gt;alert(3)&lt;/script&gt;"},
        {"guid": "x3", "title": "Relative", "link": "/press/3"},
    ]))
    watch(account, feed_server.url("/feed"))
    assert read().new_items == 3
    items = {i.title: i for i in db.session.scalars(select(NewsItem))}
    assert set(items) == {"Harborview & Co wins", "Data platform now", "Relative"}
    hostile = items["Harborview & Co wins"]
    assert hostile.link == "" and hostile.summary == "Big news"
    assert all("<" not in i.title + i.summary and i.link in ("", feed_server.url("/press/3"))
               for i in items.values())


def test_a_feed_with_its_entries_twice_keeps_each_once(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("same", "Twice", days_ago(1)), ("same", "Twice", days_ago(1))]))
    watch(account, feed_server.url("/feed"))
    assert read().new_items == 1


def slow(handler):
    time.sleep(1.5)
    return 200, XML, rss([("a", "Late", None)])


def redirect_loop(handler):
    return 302, {"Location": handler.path}, b""


BAD_FEEDS = {
    "malformed XML": ((200, XML, b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
                                 b"<item><title>One</title></chanel></rss>"), "The feed is broken"),
    "a web page": ((200, {"Content-Type": "text/html"}, b"<!doctype html><html><body><h1>News</h1></body></html>"),
                   "shows a web page, not a feed"),
    "plain text": ((200, {"Content-Type": "text/plain"}, b"hello"), "does not give an RSS or Atom feed"),
    "a server error": ((500, {}, b"oops"), "The server answered 500 Internal Server Error."),
    "a missing feed": ((404, {}, b"gone"), "The server answered 404 Not Found."),
    "a slow server": (slow, "did not answer in time (0.5 seconds)"),
    "a feed too large": ((200, XML, b"<rss>" + b" " * (2 * 1024 * 1024 + 10) + b"</rss>"), "larger than 2 MB"),
    "a compressed bomb": ((200, {**XML, "Content-Encoding": "gzip"}, gzip.compress(b" " * (3 * 1024 * 1024))),
                          "larger than 2 MB"),
    "a redirect loop": (redirect_loop, "redirects more than 3 times"),
    "a redirect to a file": ((301, {"Location": "file:///etc/passwd"}, b""), "not a web address (file)"),
}


@pytest.mark.parametrize("case", list(BAD_FEEDS))
def test_a_bad_feed_records_why_in_plain_words_and_backs_off(loopback, feed_server, case):
    account, _owner = owned_account()
    feed_server.routes["/bad"], expected = BAD_FEEDS[case]
    feed = watch(account, feed_server.url("/bad"))
    started = time.monotonic()
    report = read(timeout=0.5)
    assert time.monotonic() - started < 5
    assert (report.claimed, report.errors, report.new_items) == (1, 1, 0)
    db.session.refresh(feed)
    assert feed.last_status == "error" and expected in feed.last_error, feed.last_error
    assert (feed.failures, feed.next_check_at, feed.lease_until) == (1, NOW + 2 * HOUR, None)
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 0


def test_a_refused_connection_is_an_error_too(loopback):
    account, _owner = owned_account()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed = watch(account, f"http://127.0.0.1:{port}/feed")
    assert read().errors == 1
    db.session.refresh(feed)
    assert feed.last_error == "The site could not be reached (the connection was refused)."


def test_one_bad_feed_does_not_stop_the_others(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/bad"] = (200, XML, b"<rss><channel><item>")
    feed_server.routes["/good"] = (200, XML, rss([("a", "Fine", days_ago(1))]))
    watch(account, feed_server.url("/bad"))
    watch(account, feed_server.url("/good"))
    report = read()
    assert (report.claimed, report.ok, report.errors, report.new_items) == (2, 1, 1, 1)


def test_failures_double_the_interval_up_to_a_day_and_a_good_read_resets_it(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (500, {}, b"")
    feed = watch(account, feed_server.url("/feed"))
    now, waits = NOW, []
    for _ in range(7):
        read(now)
        db.session.refresh(feed)
        waits.append(feed.next_check_at - now)
        now = feed.next_check_at
    assert waits == [2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR, 24 * HOUR, 24 * HOUR, 24 * HOUR]
    feed_server.routes["/feed"] = (200, XML, rss([]))
    read(now)
    db.session.refresh(feed)
    assert (feed.last_status, feed.failures, feed.next_check_at) == ("ok", 0, now + HOUR)


def test_a_site_that_says_slow_down_is_left_alone_as_long_as_it_asks(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (429, {"Retry-After": str(6 * 3600)}, b"")
    feed = watch(account, feed_server.url("/feed"))
    read()
    db.session.refresh(feed)
    assert feed.next_check_at == NOW + 6 * HOUR and "asked us to slow down (429 Too Many Requests)" in feed.last_error
    when = format_datetime(NOW + 30 * HOUR, usegmt=True)
    feed_server.routes["/feed"] = (503, {"Retry-After": when}, b"")
    read(feed.next_check_at)
    db.session.refresh(feed)
    assert feed.next_check_at == NOW + 30 * HOUR


def test_the_interval_comes_from_the_settings(loopback, feed_server):
    loopback.config["NEWS_INTERVAL_MINUTES"] = 15
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([]))
    feed = watch(account, feed_server.url("/feed"))
    read()
    db.session.refresh(feed)
    assert feed.next_check_at == NOW + timedelta(minutes=15)


def test_a_private_address_is_not_fetched_unless_allowed(app, feed_server):
    assert app.config["NEWS_ALLOW_PRIVATE"] is False  # the default
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "Inside", None)]))
    feed = watch(account, feed_server.url("/feed"))
    assert read().errors == 1
    db.session.refresh(feed)
    assert "private network (127.0.0.1)" in feed.last_error and feed_server.requests == []


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.251", "240.0.0.1", "255.255.255.255",
                                     "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
                                     "::ffff:10.0.0.1"])
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_not_public(address):
    assert not news._public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_internet_addresses_are_public(address):
    assert news._public(ipaddress.ip_address(address))


def test_a_localhost_name_is_refused_like_its_address(app):
    with pytest.raises(news.FeedProblem, match="private network"):
        news.fetch("http://localhost:9/feed", NOW, timeout=0.5)


def test_a_reader_that_died_gives_its_feed_back_when_the_lease_runs_out(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "One", None)]))
    feed = watch(account, feed_server.url("/feed"))
    assert news._claim(feed.id, NOW, NOW + news.LEASE, due_only=True)  # a reader that never finished
    assert read(NOW + timedelta(minutes=1)).claimed == 0
    assert read(NOW + news.LEASE + timedelta(seconds=1)).new_items == 1


def test_two_readers_at_once_read_each_feed_once(any_db_app, feed_server):
    app = any_db_app
    app.config["NEWS_ALLOW_PRIVATE"] = True

    def answer(handler):
        time.sleep(0.05)  # long enough for the readers to overlap
        return 200, XML, rss([(handler.path.strip("/"), f"News {handler.path}", None)])

    account, _owner = owned_account()
    user = make_user("campaign")
    for n in range(8):
        feed_server.routes[f"/f{n}"] = answer
        news.add_feed(account.id, feed_server.url(f"/f{n}"), user, NOW)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait()
                reports.append(news.read_due(NOW, timeout=2.0))
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(path for path, _headers in feed_server.requests) == sorted(f"/f{n}" for n in range(8))
    assert sum(r.claimed for r in reports) == 8 and sum(r.new_items for r in reports) == 8
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 8
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 8


# --- the scheduler ----------------------------------------------------------------------------------

def test_the_news_job_is_registered_once_and_reads_due_feeds(loopback, feed_server):
    clock = BackgroundScheduler(timezone="UTC")
    clock.start(paused=True)
    try:
        for _ in range(3):
            scheduler.configure(clock, loopback)
        jobs = [job for job in clock.get_jobs() if job.id == "account_news"]
        assert len(jobs) == 1 and jobs[0].trigger.interval == timedelta(seconds=300)
    finally:
        clock.shutdown(wait=False)
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "From the job", None)]))
    feed = watch(account, feed_server.url("/feed"))
    feed.next_check_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.session.commit()
    scheduler.run_in_app(loopback, scheduler.RECURRING["account_news"][0])
    assert db.session.scalar(select(NewsItem.title)) == "From the job"


# --- adding and removing feeds ------------------------------------------------------------------

@pytest.mark.parametrize("url, message", [
    ("", "Enter the feed's address"),
    ("ftp://news.example/feed", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("https://user:secret@news.example/feed", "user name and password"),
    ("https://news.example/a feed", "spaces"),
    ("https://news.example/\nfeed", "spaces"),
    ("https:///feed", "no site name"),
    ("https://news.example:99999/feed", "not valid"),
    ("https://news.example/" + "a" * 2000, "under 2,000 characters"),
])
def test_a_feed_address_must_be_a_public_web_address(app, url, message):
    account = make_account()
    with pytest.raises(ValidationError) as error:
        watch(account, url)
    assert message in error.value.errors["url"][0]
    assert db.session.scalar(select(func.count()).select_from(AccountFeed)) == 0


def test_the_same_feed_twice_is_refused_however_it_is_written(app):
    account = make_account()
    feed = watch(account, "  HTTPS://News.Example/feed#top ")
    assert feed.url == "https://news.example/feed" and feed.last_status == "new" and feed.next_check_at == NOW
    with pytest.raises(ValidationError, match="already watches"):
        watch(account, "https://news.example/feed")
    other = make_account(name="Northwind Retail", domains=["northwind.example"])
    assert watch(other, "https://news.example/feed").account_id == other.id


def test_campaign_managers_and_the_sales_owner_change_feeds_marketers_and_other_reps_do_not(app):
    owner = make_user("sales")
    account = make_account(owner_id=owner.id)
    assert watch(account, "https://a.example/feed", owner).created_by_id == owner.id
    assert watch(account, "https://b.example/feed", make_user("campaign"))
    assert watch(account, "https://c.example/feed", make_user("admin"))
    for outsider in (make_user("marketer"), make_user("sales")):
        with pytest.raises(PermissionDenied):
            watch(account, "https://d.example/feed", outsider)
    feed = news.feeds_for(account.id)[0].feed
    with pytest.raises(PermissionDenied):
        news.remove_feed(account.id, feed.id, make_user("marketer"))
    assert len(news.feeds_for(account.id)) == 3


def test_removing_a_feed_removes_its_news(loopback, feed_server):
    account, owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "One", None)]))
    feed = watch(account, feed_server.url("/feed"))
    read()
    with pytest.raises(NotFound):
        news.remove_feed(account.id + 1, feed.id, owner)
    news.remove_feed(account.id, feed.id, owner)
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 0
    assert news.feeds_for(account.id) == []


def test_feed_rows_say_how_the_last_read_went(loopback, feed_server):
    account, _owner = owned_account()
    feed_server.routes["/feed"] = (200, XML, rss([("a", "One", days_ago(2))]))
    watch(account, feed_server.url("/feed"))
    read()
    feed_server.routes["/feed"] = (200, XML, rss([("b", "Two", None), ("c", "Three", None), ("a", "One", days_ago(2))]))
    read(NOW + HOUR)
    [row] = news.feeds_for(account.id, NOW + HOUR + timedelta(minutes=5))
    assert (row.name, row.items, row.new_last_read, row.ago) == ("Harborview Bank newsroom", 3, 2,
                                                                  -timedelta(minutes=5))


def test_news_shows_on_the_account_timeline_among_events_newest_first(loopback, feed_server):
    account, _owner = owned_account()
    tracking.record("page_view", app=loopback, account_id=account.id, occurred_at=NOW - 2 * HOUR)
    tracking.flush(loopback)
    feed_server.routes["/feed"] = (200, XML, rss([("new", "Fresh news", NOW - HOUR),
                                                  ("old", "Old news", NOW - 3 * HOUR),
                                                  ("future", "Misdated", NOW + 48 * HOUR)]))
    watch(account, feed_server.url("/feed"))
    read()
    items = engagement.timeline(account.id)
    assert [(i.type, i.title) for i in items] == [("news", "Misdated"), ("news", "Fresh news"), ("page_view", ""),
                                                  ("news", "Old news")]
    assert items[0].at == NOW  # never shown later than when we found it
    assert items[1].link == "https://news.example/new" and items[1].source == "Harborview Bank newsroom"
    assert [i.type for i in engagement.timeline(account.id, news=False)] == ["page_view"]
