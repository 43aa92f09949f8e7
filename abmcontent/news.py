"""Account news (issue 6): the RSS/Atom feeds an account watches (a Google Alerts feed for the
company's name, its newsroom), read by a recurring job; new items go on the account timeline and
into the owner's alerts.

Reading is polite and trusts nothing a feed sends:
- one reader per feed: a feed is claimed by a conditional UPDATE that sets a lease, and only the
  holder of that lease can write what it read (several schedulers never read one feed at once);
- conditional GET (If-None-Match / If-Modified-Since), once an hour, Retry-After honoured, and
  after failures the interval doubles per failure up to a day;
- the fetch is ours (http.client): a time limit, at most 2 MB (compressed or not), at most 3
  redirects, http/https only, and no address inside a private network, checked on every hop and
  connected to by the address we checked (a name that resolves differently a moment later —
  DNS rebinding — cannot steer us inside; abmcontent.safe_http, shared with webhooks).
  feedparser only ever parses bytes we already hold;
- titles and summaries are kept as plain text, links only when they are http/https;
- a bad feed records why, in words a marketer can act on, and never stops the others.

The first read of a new feed stores everything it finds but alerts the owner about the newest
FIRST_READ_ALERTS items only (a Google Alerts feed starts with about twenty); after that every
new item is an alert, at most MAX_ALERTS_PER_READ per read (a feed that renumbers its items
would otherwise announce its whole history again).
"""
from __future__ import annotations

import hashlib
import html
import http.client
import io
import logging
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from abmcontent import accounts, safe_http
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountFeed, NewsItem, User
from abmcontent.safe_http import public as _public  # noqa: F401 (tests check the address rules here)

log = logging.getLogger(__name__)

USER_AGENT = "abmcontent-news/1.0 (account news reader; RSS/Atom)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
MAX_URL = 2000
MAX_FEEDS_PER_ACCOUNT = 20
TIMEOUT = 10.0                 # seconds, for connecting and for each read from the socket
MAX_BYTES = 2 * 1024 * 1024    # the most we read of one feed (after decompression too)
MAX_REDIRECTS = 3
MAX_ENTRIES = 200              # entries looked at per read; a feed is newest first
LEASE = timedelta(minutes=5)   # a reader that died gives its feed back after this
MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(days=7)
READ_NOW_GAP = timedelta(minutes=1)   # "Read now" at most once a minute per feed
FIRST_READ_ALERTS = 3
MAX_ALERTS_PER_READ = 10
REDIRECT_CODES = (301, 302, 303, 307, 308)


# --- who may change feeds ----------------------------------------------------------------------

def can_manage(user: User, account: Account) -> bool:
    """Staff who work the account: campaign managers (and admins), and its sales owner; like
    qualification. Marketers read the news, they do not change the feeds."""
    return accounts.can_qualify(user, account)


def _require_manager(user: User, account: Account) -> None:
    if user is None or not can_manage(user, account):
        raise PermissionDenied(_("Only the account's owner or a campaign manager can change its news feeds."))


# --- adding and removing feeds -------------------------------------------------------------------

def clean_url(raw: str) -> str:
    """The address as we store and compare it (scheme and site name in lower case, no #fragment);
    ValidationError when it is not a public http(s) address."""
    url = (raw or "").strip()
    if not url:
        raise ValidationError({"url": [_("Enter the feed's address, e.g. https://www.google.com/alerts/feeds/…")]})
    if len(url) > MAX_URL:
        raise ValidationError({"url": [_("Keep the address under 2,000 characters.")]})
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValidationError({"url": [_("An address cannot contain spaces or line breaks.")]})
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError({"url": [_("Only web addresses starting with http:// or https:// can be read.")]})
    if "@" in parts.netloc:
        raise ValidationError({"url": [_("Leave the user name and password out of the address: "
                                         "we only read public feeds.")]})
    try:
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        raise ValidationError({"url": [_("That address is not valid: check the site name and port.")]}) from None
    if not host:
        raise ValidationError({"url": [_("That address has no site name in it.")]})
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path or "/", parts.query, ""))


def add_feed(account_id: int, url: str, user: User, now: datetime) -> AccountFeed:
    """Watch a feed for an account; it is read on the scheduler's next pass."""
    account = accounts.get_account(account_id)
    _require_manager(user, account)
    url = clean_url(url)
    taken = db.session.scalar(select(func.count(AccountFeed.id)).where(AccountFeed.account_id == account.id))
    if db.session.scalar(select(AccountFeed.id).where(AccountFeed.account_id == account.id, AccountFeed.url == url)):
        raise ValidationError({"url": [_("This account already watches that feed.")]})
    if taken >= MAX_FEEDS_PER_ACCOUNT:
        raise ValidationError({"url": [_("An account can watch at most %(num)s feeds: remove one first.",
                                         num=MAX_FEEDS_PER_ACCOUNT)]})
    feed = AccountFeed(account_id=account.id, url=url, title="", etag="", last_modified="", next_check_at=now,
                       lease_until=None, last_status="new", last_error="", failures=0, created_by_id=user.id,
                       created_at=now)
    db.session.add(feed)
    try:
        db.session.commit()
    except IntegrityError:  # the same address added at the same moment by someone else
        db.session.rollback()
        raise ValidationError({"url": [_("This account already watches that feed.")]}) from None
    return feed


def get_feed(account_id: int, feed_id: int) -> AccountFeed:
    feed = db.session.get(AccountFeed, feed_id)
    if feed is None or feed.account_id != account_id:
        raise NotFound(_("That feed does not exist."))
    return feed


def remove_feed(account_id: int, feed_id: int, user: User) -> None:
    """Stop watching a feed; the news it brought goes with it."""
    account = accounts.get_account(account_id)
    _require_manager(user, account)
    feed = get_feed(account.id, feed_id)
    db.session.execute(NewsItem.__table__.delete().where(NewsItem.feed_id == feed.id))
    db.session.delete(feed)
    db.session.commit()


def feed_name(feed: AccountFeed) -> str:
    """What the feed calls itself, else its site."""
    return feed.title or (urlsplit(feed.url).hostname or feed.url)


@dataclass
class FeedRow:
    feed: AccountFeed
    name: str
    items: int                    # news items kept from it
    new_last_read: int            # of those, how many its last read found
    ago: timedelta | None         # last read relative to now (negative: in the past)
    error: str = ""               # why the last read failed, in the reader's language


def feeds_for(account_id: int, now: datetime | None = None) -> list[FeedRow]:
    """An account's feeds, oldest first, with how their last read went."""
    now = now or datetime.now(timezone.utc)
    feeds = list(db.session.scalars(select(AccountFeed).where(AccountFeed.account_id == account_id)
                                    .order_by(AccountFeed.created_at, AccountFeed.id)))
    if not feeds:
        return []
    n, f = NewsItem, AccountFeed
    totals = dict(db.session.execute(select(n.feed_id, func.count()).where(n.account_id == account_id)
                                     .group_by(n.feed_id)).all())
    # an item's found_at is the read that found it, so "new last time" is found_at == last_checked_at
    latest = dict(db.session.execute(select(n.feed_id, func.count()).join(f, f.id == n.feed_id)
                                     .where(n.account_id == account_id, n.found_at == f.last_checked_at)
                                     .group_by(n.feed_id)).all())
    return [FeedRow(feed, feed_name(feed), totals.get(feed.id, 0), latest.get(feed.id, 0),
                    (feed.last_checked_at - now) if feed.last_checked_at else None,
                    say_error(feed.last_error) if feed.last_status == "error" else "") for feed in feeds]


def shown_at(item: NewsItem) -> datetime:
    """When an item happened, for the timeline: its publication date, never later than when we found it."""
    return min(item.published_at, item.found_at) if item.published_at else item.found_at


def items_for(account_id: int, limit: int = 25) -> list[NewsItem]:
    """An account's news, newest first (by publication date, else when found)."""
    n = NewsItem
    return list(db.session.scalars(
        select(n).where(n.account_id == account_id).options(selectinload(n.feed))
        .order_by(func.coalesce(n.published_at, n.found_at).desc(), n.id.desc()).limit(limit)))


# --- why a read failed, in the reader's language -----------------------------------------------
# last_error keeps the English sentence (what an operator reads in the database); the UI says the
# known ones in the reader's language, like abmcontent.web.reasons does for touchpoints.

PROBLEMS: dict[str, tuple[str, object]] = {
    "http": ("The server answered {detail}.", lambda d: _("The server answered %(detail)s.", detail=d)),
    "slow_down": ("The site asked us to slow down ({detail}); we try again later.",
                  lambda d: _("The site asked us to slow down (%(detail)s); we try again later.", detail=d)),
    "timeout": ("The site did not answer in time ({detail} seconds).",
                lambda d: _("The site did not answer in time (%(detail)s seconds).", detail=d)),
    "unreachable": ("The site could not be reached ({detail}).",
                    lambda d: _("The site could not be reached (%(detail)s).", detail=d)),
    "tls": ("The site's security certificate could not be checked ({detail}).",
            lambda d: _("The site's security certificate could not be checked (%(detail)s).", detail=d)),
    "private": ("The address points inside a private network ({detail}), so we do not read it.",
                lambda d: _("The address points inside a private network (%(detail)s), so we do not read it.",
                            detail=d)),
    "too_big": ("The feed is larger than {detail} MB, so it was not read.",
                lambda d: _("The feed is larger than %(detail)s MB, so it was not read.", detail=d)),
    "redirects": ("The address redirects more than {detail} times.",
                  lambda d: _("The address redirects more than %(detail)s times.", detail=d)),
    "scheme": ("The address redirects to something that is not a web address ({detail}).",
               lambda d: _("The address redirects to something that is not a web address (%(detail)s).", detail=d)),
    "html": ("The address shows a web page, not a feed{detail}: look on that page for an RSS or Atom link.",
             lambda d: _("The address shows a web page, not a feed%(detail)s: look on that page for an RSS or "
                         "Atom link.", detail=d)),
    "malformed": ("The feed is broken and cannot be read ({detail}).",
                  lambda d: _("The feed is broken and cannot be read (%(detail)s).", detail=d)),
    "not_feed": ("The address does not give an RSS or Atom feed{detail}.",
                 lambda d: _("The address does not give an RSS or Atom feed%(detail)s.", detail=d)),
    "unexpected": ("The feed could not be read ({detail}).",
                   lambda d: _("The feed could not be read (%(detail)s).", detail=d)),
}
_PROBLEM_PATTERNS = [(re.compile("^" + re.escape(english).replace(re.escape("{detail}"), "(?P<detail>.*)") + "$",
                                 re.S), say) for english, say in PROBLEMS.values()]


def say_error(text: str | None) -> str:
    """A stored read error in the reader's language (anything unknown as it is)."""
    text = (text or "").strip()
    for pattern, say in _PROBLEM_PATTERNS:
        found = pattern.match(text)
        if found:
            return say(found["detail"])
    return text


class FeedProblem(Exception):
    """Why a feed could not be read; `retry_after` when the site said when to come back."""

    def __init__(self, key: str, detail: object = "", retry_after: timedelta | None = None):
        self.key, self.detail, self.retry_after = key, str(detail), retry_after
        super().__init__(PROBLEMS[key][0].format(detail=self.detail)[:500])


# --- fetching: our own HTTP client, so every hop is checked ------------------------------------

@dataclass
class Fetched:
    status: int                   # 200, or 304 (not modified)
    url: str                      # after redirects
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


def _addresses(host: str, port: int, allow_private: bool) -> list[tuple]:
    """Where host:port is, every address checked (abmcontent.safe_http), in a feed's words."""
    try:
        return safe_http.addresses(host, port, allow_private)
    except safe_http.Refused as refused:
        raise FeedProblem(refused.key, refused.detail) from None


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    return safe_http.retry_after(value, now, MAX_RETRY_AFTER)


def _read_body(response, max_bytes: int, deadline: float, timeout: float) -> bytes:
    length = response.getheader("Content-Length", "")
    if length.strip().isdigit() and int(length) > max_bytes:
        raise FeedProblem("too_big", _mb(max_bytes))
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise FeedProblem("unexpected", f"unknown content encoding {encoding[:40]}")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    chunks, size, raw = [], 0, 0
    while True:
        if time.monotonic() > deadline:  # a server that drips bytes never trips the socket timeout
            raise FeedProblem("timeout", _seconds(timeout))
        chunk = response.read(65536)
        if not chunk:
            break
        raw += len(chunk)
        if inflate is not None:
            try:
                chunk = inflate.decompress(chunk, max_bytes + 1 - size)
            except zlib.error:
                raise FeedProblem("unexpected", "the compressed answer is damaged") from None
            if inflate.unconsumed_tail:  # more than max_bytes waiting to come out
                raise FeedProblem("too_big", _mb(max_bytes))
        size += len(chunk)
        if size > max_bytes or raw > max_bytes:
            raise FeedProblem("too_big", _mb(max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def _seconds(timeout: float) -> str:
    return f"{timeout:g}"


def fetch(url: str, now: datetime, etag: str = "", last_modified: str = "", *, timeout: float = TIMEOUT,
          max_bytes: int = MAX_BYTES, allow_private: bool = False, max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET a feed, conditionally; FeedProblem when it cannot be had. Never fetches a private
    address unless allow_private (checked for the first address and for every redirect)."""
    deadline = time.monotonic() + timeout * 3
    current = url
    for _hop in range(max_redirects + 1):
        parts = urlsplit(current)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FeedProblem("scheme", scheme[:20] or "?")
        try:
            host, port = safe_http.host_and_port(parts)
        except safe_http.Refused as refused:
            raise FeedProblem(refused.key, refused.detail) from None
        addresses = _addresses(host, port, allow_private)
        pinned = safe_http.PinnedHTTPS if scheme == "https" else safe_http.PinnedHTTP
        connection = pinned(host, port, addresses, timeout)
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            connection.request("GET", safe_http.target(parts), headers=headers)
            response = connection.getresponse()
            status = response.status
            if status in REDIRECT_CODES:
                location = (response.getheader("Location") or "").strip()
                if not location:
                    raise FeedProblem("http", safe_http.status_text(status))
                current = urljoin(current, location)
                continue
            if status == 304:
                return Fetched(304, current, headers={k.lower(): v for k, v in response.getheaders()})
            if status in (429, 503):
                raise FeedProblem("slow_down", safe_http.status_text(status),
                                  retry_after=_retry_after(response.getheader("Retry-After"), now))
            if status != 200:
                raise FeedProblem("http", safe_http.status_text(status))
            body = _read_body(response, max_bytes, deadline, timeout)
            return Fetched(200, current, body, {k.lower(): v for k, v in response.getheaders()})
        except FeedProblem:
            raise
        except (socket.timeout, TimeoutError):
            raise FeedProblem("timeout", _seconds(timeout)) from None
        except ssl.SSLError as error:
            raise FeedProblem("tls", getattr(error, "reason", None) or error.__class__.__name__) from None
        except ConnectionRefusedError:
            raise FeedProblem("unreachable", "the connection was refused") from None
        except (ConnectionError, OSError) as error:
            raise FeedProblem("unreachable", (error.strerror or error.__class__.__name__)[:100]) from None
        except http.client.HTTPException as error:
            raise FeedProblem("unexpected", f"not a valid web answer: {error.__class__.__name__}") from None
        finally:
            connection.close()
    raise FeedProblem("redirects", max_redirects)


# --- parsing: feedparser on the bytes we hold ----------------------------------------------------

class _TextOnly(HTMLParser):
    """Markup to its text: tags dropped, the insides of script and style too, entities decoded."""

    SKIP = {"script", "style", "template", "noscript", "iframe", "object"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def plain_text(value: str, limit: int) -> str:
    """Feed text as plain text on one line: never markup, never control characters."""
    if not value:
        return ""
    parser = _TextOnly()
    try:
        parser.feed(value)
        parser.close()
        text = html.unescape("".join(parser.parts))
    except Exception:  # noqa: BLE001 - markup the parser chokes on: drop anything tag-like
        text = html.unescape(re.sub(r"<[^>]*>?", " ", value))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:limit]


def safe_link(value: str) -> str:
    """An item's link if it is an absolute http(s) address; a Google Alerts link goes straight to
    the article instead of through Google's redirect."""
    link = (value or "").strip()
    if not link or len(link) > MAX_URL or any(ch.isspace() or not ch.isprintable() for ch in link):
        return ""
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if parts.hostname in ("www.google.com", "google.com") and parts.path == "/url":
        target = (parse_qs(parts.query).get("url") or [""])[0]
        if target and target != link:
            return safe_link(target) or link
    return link


def _when(parsed) -> datetime | None:
    try:
        return datetime(*parsed[:6], tzinfo=timezone.utc) if parsed else None
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass
class ParsedFeed:
    title: str
    entries: list[dict]   # guid, title, link, summary, published_at; in the feed's order


def _looks_like_html(body: bytes, content_type: str) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    return start.startswith((b"<!doctype html", b"<html")) or content_type.startswith("text/html")


def parse(fetched: Fetched) -> ParsedFeed:
    """The feed's entries, as plain values; FeedProblem when the bytes are not a feed."""
    import feedparser
    from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

    content_type = fetched.headers.get("content-type", "").lower()
    parsed = feedparser.parse(io.BytesIO(fetched.body), response_headers={
        "content-type": fetched.headers.get("content-type", "application/xml"), "content-location": fetched.url},
        sanitize_html=True, resolve_relative_uris=True)
    version = parsed.get("version") or ""
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version:
        if _looks_like_html(fetched.body, content_type):
            raise FeedProblem("html", "")
        raise FeedProblem("not_feed", "")
    if problem is not None and not isinstance(problem, (CharacterEncodingOverride, NonXMLContentType)):
        line = getattr(problem, "getLineNumber", lambda: None)()
        what = getattr(problem, "getMessage", lambda: str(problem))()
        raise FeedProblem("malformed", (f"line {line}: " if line else "") + str(what)[:200])
    entries = []
    for entry in parsed.entries[:MAX_ENTRIES]:
        key = (entry.get("id") or entry.get("link") or entry.get("title") or "").strip()
        if not key:
            continue  # nothing to tell it from the next one by
        title = plain_text(entry.get("title", ""), 500)
        summary = plain_text(entry.get("summary", ""), 5000)
        link = safe_link(entry.get("link", ""))
        entries.append({"guid": hashlib.sha256(key.encode("utf-8", "replace")).hexdigest(),
                        "title": title or summary[:200] or link[:500], "link": link, "summary": summary,
                        "published_at": _when(entry.get("published_parsed") or entry.get("updated_parsed"))})
    return ParsedFeed(plain_text(parsed.feed.get("title", ""), 300), entries)


# --- reading due feeds ---------------------------------------------------------------------------

@dataclass
class FeedOutcome:
    feed_id: int
    status: str = ""          # ok, not_modified, error; "" when another reader had it
    new_items: int = 0
    alerts: int = 0
    error: str = ""


@dataclass
class ReadReport:
    claimed: int = 0
    ok: int = 0
    not_modified: int = 0
    errors: int = 0
    new_items: int = 0
    alerts: int = 0
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def add(self, outcome: FeedOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.status == "error":
            self.errors += 1
        elif outcome.status in ("ok", "not_modified"):
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        self.new_items += outcome.new_items
        self.alerts += outcome.alerts


@dataclass
class _Settings:
    interval: timedelta
    timeout: float
    max_bytes: int
    allow_private: bool


def _settings(timeout: float | None, max_bytes: int | None, allow_private: bool | None) -> _Settings:
    config = current_app.config
    return _Settings(interval=timedelta(minutes=float(config.get("NEWS_INTERVAL_MINUTES", 60))),
                     timeout=TIMEOUT if timeout is None else timeout,
                     max_bytes=MAX_BYTES if max_bytes is None else max_bytes,
                     allow_private=bool(config.get("NEWS_ALLOW_PRIVATE", False)) if allow_private is None
                     else allow_private)


def _claim(feed_id: int, now: datetime, lease_until: datetime, due_only: bool) -> bool:
    """Take a feed for reading: one conditional UPDATE, in its own transaction, so of two readers
    exactly one gets it (the other's UPDATE finds the lease taken and changes nothing)."""
    f = AccountFeed.__table__
    free = or_(f.c.lease_until.is_(None), f.c.lease_until < now)
    condition = and_(f.c.id == feed_id, free, f.c.next_check_at <= now) if due_only else and_(f.c.id == feed_id, free)
    with db.engine.begin() as conn:
        return bool(conn.execute(update(f).where(condition).values(lease_until=lease_until)).rowcount)


def read_due(now: datetime, batch: int = 50, *, timeout: float | None = None, max_bytes: int | None = None,
             allow_private: bool | None = None) -> ReadReport:
    """Read every feed that is due (next_check_at reached, nobody reading it), one at a time.
    Never raises for a feed: a bad one records its error and the others are read."""
    settings = _settings(timeout, max_bytes, allow_private)
    f = AccountFeed.__table__
    due = db.session.scalars(select(f.c.id).where(f.c.next_check_at <= now,
                                                  or_(f.c.lease_until.is_(None), f.c.lease_until < now))
                             .order_by(f.c.next_check_at, f.c.id).limit(batch)).all()
    db.session.rollback()  # no transaction held open while we wait on the network
    report = ReadReport()
    started = time.monotonic()
    for feed_id in due:
        # the lease counts from when this feed is taken, not from when the pass began
        lease_until = now + timedelta(seconds=time.monotonic() - started) + LEASE
        try:
            if not _claim(feed_id, now, lease_until, due_only=True):
                continue  # another reader has it, or read it a moment ago
        except Exception:  # noqa: BLE001 - the database hiccuped: this feed waits for the next pass
            log.exception("could not claim feed %s", feed_id)
            db.session.rollback()
            continue
        report.claimed += 1
        report.add(_read_claimed(feed_id, lease_until, now, settings))
    return report


def read_now(account_id: int, feed_id: int, user: User, now: datetime, *, timeout: float | None = None,
             allow_private: bool | None = None) -> FeedOutcome:
    """Read one feed at once ("Read now" on the account page), whatever its schedule; at most once
    a minute, and never while another reader has it."""
    account = accounts.get_account(account_id)
    _require_manager(user, account)
    feed = get_feed(account.id, feed_id)
    if feed.last_checked_at and now - feed.last_checked_at < READ_NOW_GAP:
        raise InvalidTransition(_("This feed was read less than a minute ago; try again in a moment."))
    # a person is waiting: a shorter time limit than the scheduler's
    settings = _settings(min(TIMEOUT / 2, timeout or TIMEOUT), None, allow_private)
    lease_until = now + LEASE
    db.session.rollback()
    if not _claim(feed_id, now, lease_until, due_only=False):
        raise InvalidTransition(_("This feed is being read right now; look again in a minute."))
    return _read_claimed(feed_id, lease_until, now, settings)


def _read_claimed(feed_id: int, lease_until: datetime, now: datetime, settings: _Settings) -> FeedOutcome:
    """Fetch, parse and record one claimed feed. Whatever goes wrong is recorded on the feed."""
    outcome = FeedOutcome(feed_id)
    try:
        f = AccountFeed.__table__
        row = db.session.execute(select(f.c.url, f.c.etag, f.c.last_modified, f.c.failures, f.c.account_id)
                                 .where(f.c.id == feed_id)).one_or_none()
        db.session.rollback()
        if row is None:
            return outcome  # removed meanwhile
        try:
            fetched = fetch(row.url, now, row.etag, row.last_modified, timeout=settings.timeout,
                            max_bytes=settings.max_bytes, allow_private=settings.allow_private)
            parsed = parse(fetched) if fetched.status == 200 else None
        except FeedProblem as problem:
            return _record_problem(feed_id, lease_until, row.failures, problem, now, settings, outcome)
        except Exception as error:  # noqa: BLE001 - a feed must never stop the others
            log.exception("reading feed %s failed", feed_id)
            problem = FeedProblem("unexpected", error.__class__.__name__)
            return _record_problem(feed_id, lease_until, row.failures, problem, now, settings, outcome)
        return _record_read(feed_id, row.account_id, lease_until, fetched, parsed, now, settings, outcome)
    except Exception:  # noqa: BLE001 - the database failed while recording: the lease runs out, read again
        log.exception("recording feed %s failed", feed_id)
        db.session.rollback()
        outcome.status, outcome.error = "error", "not recorded"
        return outcome


def _backoff(failures: int, settings: _Settings) -> timedelta:
    """After `failures` failures in a row: the interval doubled for each, a day at most."""
    return min(settings.interval * (2 ** min(failures, 20)), MAX_BACKOFF)


def _record_problem(feed_id: int, lease_until: datetime, failures: int, problem: FeedProblem, now: datetime,
                    settings: _Settings, outcome: FeedOutcome) -> FeedOutcome:
    failures += 1
    wait = _backoff(failures, settings)
    if problem.retry_after is not None:
        wait = max(wait, problem.retry_after)
    f = AccountFeed.__table__
    with db.engine.begin() as conn:
        done = conn.execute(update(f).where(f.c.id == feed_id, f.c.lease_until == lease_until).values(
            lease_until=None, last_checked_at=now, last_status="error", last_error=str(problem)[:500],
            failures=failures, next_check_at=now + wait)).rowcount
    if done:
        outcome.status, outcome.error = "error", str(problem)
    return outcome


def _record_read(feed_id: int, account_id: int, lease_until: datetime, fetched: Fetched, parsed: ParsedFeed | None,
                 now: datetime, settings: _Settings, outcome: FeedOutcome) -> FeedOutcome:
    """The read's result in one transaction, fenced by our lease: new items, validators, schedule."""
    f, n = AccountFeed.__table__, NewsItem.__table__
    values = dict(lease_until=None, last_checked_at=now, last_error="", failures=0,
                  next_check_at=now + settings.interval)
    if parsed is None:
        values["last_status"] = "not_modified"
    else:
        values["last_status"] = "ok"
        etag, modified = fetched.headers.get("etag", ""), fetched.headers.get("last-modified", "")
        # a validator too long for its column would be sent back wrong: keep none instead
        values["etag"] = etag if len(etag) <= 300 else ""
        values["last_modified"] = modified if len(modified) <= 100 else ""
        if parsed.title:
            values["title"] = parsed.title
    new: list[tuple[int, dict]] = []
    with db.engine.begin() as conn:
        first_read = not conn.execute(select(
            exists().where(n.c.feed_id == feed_id) | exists().where(
                f.c.id == feed_id, f.c.last_status.in_(("ok", "not_modified"))))).scalar()
        done = conn.execute(update(f).where(f.c.id == feed_id, f.c.lease_until == lease_until)
                            .values(**values)).rowcount
        if not done:
            return outcome  # our lease ran out and another reader took over: its read counts
        if parsed is not None and parsed.entries:
            guids = [e["guid"] for e in parsed.entries]
            known = set(conn.execute(select(n.c.guid).where(n.c.feed_id == feed_id, n.c.guid.in_(guids))).scalars())
            for entry in parsed.entries:
                if entry["guid"] in known:
                    continue
                known.add(entry["guid"])  # the same entry twice in one feed
                item_id = conn.execute(insert(n).values(feed_id=feed_id, account_id=account_id, found_at=now,
                                                        **entry).returning(n.c.id)).scalar_one()
                new.append((item_id, entry))
    outcome.status, outcome.new_items = values["last_status"], len(new)
    if new:
        outcome.alerts = _alert_owner(account_id, new, first_read, values.get("title") or "", now)
    return outcome


def _alert_owner(account_id: int, new: list[tuple[int, dict]], first_read: bool, feed_title: str,
                 now: datetime) -> int:
    """The newest of the new items as alerts to the account's owner (none without an owner)."""
    from abmcontent import alerts

    owner_id = db.session.scalar(select(Account.owner_id).where(Account.id == account_id))
    db.session.rollback()
    if owner_id is None:
        return 0
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    # newest first by publication date; undated ones keep the feed's own order (newest first)
    ranked = sorted(enumerate(new), key=lambda pair: (-(pair[1][1]["published_at"] or oldest).timestamp(), pair[0]))
    chosen = [item for _index, item in ranked][:FIRST_READ_ALERTS if first_read else MAX_ALERTS_PER_READ]
    return sum(alerts.news(owner_id, account_id, item_id, entry["title"], feed_title, now)
               for item_id, entry in chosen)
