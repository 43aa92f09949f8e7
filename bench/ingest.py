"""Tracking ingest: engagement events through the public endpoints of the real server (issue 6).

Target: ≥ 2,000 events stored a second, 0 lost, 0 stored twice; every tracking answer 2xx/3xx,
also while the database refuses writes (--db-outage).

What it builds (a fresh SQLite file in a temp folder, migrated like production; or, with
--database-url, an EMPTY PostgreSQL database, migrated here):
  * the demo (`flask demo load`: users, ~500 accounts, the starter library, 40 published assets);
  * 2 stakeholders at each of 300 accounts, and a personalized URL for 400 of them;
  * one published landing page with the default sections (landing.create_page, 10% holdout);
  * 3,000 sent email touchpoints (sent a day ago, so no open or click is early enough to look
    like a mail system's), each with its open pixel token and 2 tracked links — the tokens that
    EmailChannel.build puts in a message (channels.email.tracking_token).

The server: gunicorn (requirements.txt) with the app on that database, on a free loopback port,
the scheduler not embedded, TRUSTED_PROXIES=1 (the load client stands in for the load balancer),
by default 2 `gthread` workers × 4 threads. Why gthread: the sync
worker answers every request with `Connection: close`, so each pixel or beacon pays a new TCP
connection (a browser or a mail proxy keeps its connection open), and on this machine it was
slower for the same pixels (wrk: ~840/s sync vs ~1,190/s gthread before the changes below). Two
workers for two cores: a worker's threads share one core (the GIL) and only overlap database
waits; 3 or 4 workers were slower here, because each worker composes every visitor's page once
for its own page cache. --worker-class sync and --workers/--threads compare.

The load: --clients processes × --connections keep-alive connections each (a small HTTP/1.1
client on raw sockets, one selector per process: ~90-120 µs of CPU per request, printed next to
the server's, ~8% of the CPU used), for --seconds, each connection a visitor or a mail client
choosing its next request from this mix. The shares follow an email-driven ABM campaign per 100
landing page views: ~250 beacons (one at each hide and one a minute while visible), ~25 assets
read, ~8 call-to-action clicks, ~50 tracked links clicked (half the views come from email) and
~500 opens (a click-to-open rate near 10%, image proxies and Apple's prefetch included):
   10.7%  page view  /p/<slug>?t=<token> (70%), anonymous with a utm_industry (20%), or with a
                     token and DNT: 1 / Sec-GPC: 1 (10%); the page's visit id and links are kept
   26.8%  beacon     POST /p/beacon v=<visit id of an earlier view>&s=<seconds> (2% forged: no event)
    2.7%  asset      a recommended asset on the page just seen (a gated one records nothing)
    0.9%  CTA click  the page's call-to-action link → 303
   53.6%  open       /o/<token>.gif (10% through Google's image proxy → machine "image_proxy";
                     10% with DNT → no contact; 2% forged token → a GIF but no event)
    5.3%  click      /r/<token> → 302 (5% HEAD, as link scanners do → machine "head_request")
Every request names its visitor in X-Forwarded-For, so the rate limits (abmcontent.rate_limits,
per client address, default RATE_LIMITS) run on the hot path as in production: one address per
person with a link (their beacons, assets and CTA clicks come from it too), one per email's
recipient for its opens and clicks, 2,000 for anonymous visitors and 64 for Google's image proxy
(~4,000 in a run). Requests refused (429) are counted as `limited` (target 0: these rates are a
campaign's, far below the limits) and `busiest_address_per_minute` says how close the busiest
address came to each limit; a limited pixel or link would answer as usual and show as `lost`.
--mix KIND=SHARE,… replaces it, e.g. --mix open=100 for pixels alone, or hello=100 (GET
/healthz, no event) for the ceiling of this server and client. Every request carries a unique
number in its User-Agent (the events table stores it), so each stored row is matched to the
request that should have made it.

After the load the server is stopped with SIGTERM (gunicorn's graceful stop: each worker's
atexit hook flushes its queue, to the spool if the database fails), then the spool is replayed
as tracking.flush() does, and the rows are counted:
  expected        requests answered 2xx/3xx that should have made an event
  lost            expected requests with no row              (target 0)
  duplicates      rows beyond the first for one request      (target 0)
  unexpected      rows from requests that must make none (forged tokens, gated assets)
  wrong           rows of the wrong type, a contact kept under DNT, or a wrong machine flag
  errors          answers other than 2xx/3xx, or no answer
  events_per_second  stored events of the timed load ÷ its wall time (target ≥ 2,000)
  backlog_at_end  expected events not yet in the table when the load stopped (the writer's lag)
and latency p50/p99 over all requests, per kind in the table printed above the JSON; CPU
seconds of the server, of the clients and of other processes on the machine during the load
(others' work skews everything: say so).

--db-outage SECONDS: that long, starting 3 s into the load, another connection holds the
database's write lock (SQLite: BEGIN EXCLUSIVE; PostgreSQL: LOCK TABLE engagement_events IN
EXCLUSIVE MODE; reads go on, as they do in WAL mode). Longer than SQLite's busy_timeout (10 s)
the writers' inserts fail and their events go to the spool, then are replayed; shorter, they
wait in memory. The load then runs at least until 8 s after the outage, and the figures add
writer_failures (inserts that failed and were spooled, from the server log), spool files left at
the stop and rows replayed from them afterwards.

What limits it (2 vCPUs, November 2026): gunicorn's own Python per request (GET /healthz through
Flask: ~350 µs of server CPU; gunicorn's parsing and connection handling are about a third of
the mix's CPU), then what each answer does on top. The pixel, link and beacon are answered in
front of Flask (web.public.TrackingEndpoints). The pixel makes no query: the writer thread reads
the touchpoints of a whole batch of opens in one query (tracking.record_open), so pixels alone
went from ~390 to ~280 µs of server CPU each (--mix open=100: ~4,300 → ~5,900 a second). Public
pages read their published page and its sections as one cached snapshot (landing.PublishedPage)
instead of two ORM loads, and an asset page reads the asset with its files in one query. A
rate-limit check costs ~3-5 µs (fixed window in memory; a moving window, or the library's own
10 ms expiry sweep, cost far more: see rate_limits.py). Page views and asset reads, an eighth of
the requests, still take about 40% of the CPU: a personalized page is composed at a visitor's
first view in each worker and after each asset they read (what they read drops out of their
recommendations), and an asset page is rendered every time. Mix figures, quiet machine:
2,430-2,500 events/s before (no limits, no X-Forwarded-For), 2,960-3,120 after.

Run: .venv/bin/python bench/ingest.py [--seconds 20] [--mix KIND=SHARE,…] [--workers 2]
         [--threads 4] [--worker-class gthread|sync] [--clients 2] [--connections 8]
         [--warmup 30] [--db-outage SECONDS] [--database-url postgresql+psycopg://…/empty_db]
         [--profile] [--keep]
--profile wraps the app in each gunicorn worker with one cProfile per request thread (gunicorn's
own parsing and the writer thread are not in it) and prints the top functions at the end.
It exits non-zero if anything is lost, stored twice, stored wrongly or answered with an error.
It takes about 30 s with the defaults. The last line is one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from array import array
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _setup  # noqa: F401  (puts the repository on sys.path)

from sqlalchemy import func, insert, select  # noqa: E402

from abmcontent import create_app, demo, identification, landing, tracking  # noqa: E402
from abmcontent.channels.email import tracking_token  # noqa: E402
from abmcontent.extensions import db  # noqa: E402
from abmcontent.models import (Account, Asset, Contact, EngagementEvent, Touchpoint,  # noqa: E402
                               TrackedLink, User)

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
SLUG = "data-platform-ingest"
SECRET = "bench-ingest"
CONTACT_ACCOUNTS, PERSONAL_URLS, TOUCHPOINTS, LINKS_PER_EMAIL = 300, 400, 3_000, 2
OUTAGE_START = 3.0

# kind: (share of requests, event type stored)
MIX = {"page_view": (10.7, "page_view"), "beacon": (26.8, "time_on_page"), "asset": (2.7, "asset_open"),
       "cta": (0.9, "cta_click"), "open": (53.6, "email_open"), "click": (5.3, "email_click"),
       "hello": (0, "")}  # GET /healthz, no event: the ceiling of this server and client (--mix hello=100)
KINDS = list(MIX)
EVENT_OF = [MIX[k][1] for k in KINDS]
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
IMAGE_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
TAG = re.compile(r" ingest/(\d+)$")
# flags of one request
EXPECT, DNT, PROXY, HEAD, TIMED, TOKEN = 1, 2, 4, 8, 16, 32
# Simulated client addresses, sent as X-Forwarded-For (the server trusts one proxy hop, as behind a
# load balancer, so its rate limits count these): 10.<group>.x.y, one per person with a link, one
# per email's recipient (its opens and clicks), a pool for anonymous visitors and one for Google's
# image proxy. A page's beacons, assets and CTA come from the page's address.
PEOPLE, ANONYMOUS, MAIL, PROXIES = 1, 2, 3, 4
ANONYMOUS_ADDRESSES, PROXY_ADDRESSES = 2000, 64
LIMIT_OF = {"page_view": "page", "beacon": "beacon", "asset": "asset", "cta": "cta", "open": "pixel",
            "click": "click"}


def address(group: int, n: int) -> int:
    return (10 << 24) | (group << 16) | (n & 0xFFFF)


def ip_text(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def log(message: str) -> None:
    print(message, flush=True)


# --- data ----------------------------------------------------------------------------------------

def build(folder: Path, database_url: str) -> dict:
    rng = random.Random(17)
    now = datetime.now(timezone.utc)
    config = {"SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder / 'bench.db'}",
              "instance_path": str(folder), "UPLOAD_FOLDER": str(folder / "uploads"), "SECRET_KEY": SECRET,
              "WTF_CSRF_ENABLED": False}
    app = create_app(config)
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count(EngagementEvent.id))):
            raise SystemExit("the database already holds engagement events: give an empty one")
        started = time.perf_counter()
        demo.load(app.config["CONTENT_FOLDER"], now, app.config["UPLOAD_FOLDER"])
        marketer = db.session.scalar(select(User).where(User.email == "marketer@abmcontent.demo"))

        accounts = list(db.session.execute(select(Account.id, Account.domain, Account.country)
                                           .order_by(Account.id)))
        chosen = rng.sample(accounts, min(CONTACT_ACCOUNTS, len(accounts)))
        personas = ["economic_buyer", "technical_evaluator", "end_user", "champion", "procurement"]
        rows = []
        for account_id, domain, country in chosen:
            for persona in rng.sample(personas, 2):
                rows.append(dict(account_id=account_id, first_name=f"P{len(rows)}", last_name="Ingest",
                                 email=f"p{len(rows)}@{domain or f'acct{account_id}.example'}", phone="",
                                 title="Director", seniority="director", persona=persona, buying_authority="",
                                 language="ko" if country == "KR" else "en", timezone="", street="", city="",
                                 region="", postal_code="", country=country or "", crm_id="",
                                 created_at=now, updated_at=now))
        db.session.execute(insert(Contact), rows)
        db.session.commit()
        people = list(db.session.execute(select(Contact.id, Contact.account_id).order_by(Contact.id)))

        page = landing.create_page(landing.PageInput(title="The modern data platform", slug=SLUG,
                                                     language="en", holdout_percent="10"), marketer, now)
        landing.set_status(page.id, "published", marketer, now)
        tokens = [identification.create_personal_url(account_id, contact_id, marketer, now)[1]
                  for contact_id, account_id in rng.sample(people, min(PERSONAL_URLS, len(people)))]

        assets = list(db.session.scalars(select(Asset.id).where(Asset.status == "published")))
        sent = now - timedelta(days=1)
        picks = [people[rng.randrange(len(people))] for _ in range(TOUCHPOINTS)]
        db.session.execute(insert(Touchpoint), [
            {"account_id": account_id, "contact_id": contact_id, "channel": "email", "subject": "The data platform",
             "asset_id": rng.choice(assets), "due_at": sent, "window_end_at": sent + timedelta(hours=8),
             "status": "sent", "attempts": 1, "claimed_by": "", "provider_id": f"<tp-ingest-{n}@bench>",
             "last_error": "", "idempotency_key": f"ingest-{n}", "sent_at": sent, "created_at": sent,
             "updated_at": sent}
            for n, (contact_id, account_id) in enumerate(picks)])
        db.session.commit()
        touchpoints = list(db.session.scalars(select(Touchpoint.id).order_by(Touchpoint.id)))
        db.session.execute(insert(TrackedLink), [
            {"touchpoint_id": tp, "url": f"https://www.cobaltdata.example/resources/{tp}-{n}?utm_source=email"}
            for tp in touchpoints for n in range(LINKS_PER_EMAIL)])
        db.session.commit()
        links = list(db.session.scalars(select(TrackedLink.id).order_by(TrackedLink.id)))
        gated = {slug: bool(is_gated) for slug, is_gated in db.session.execute(
            select(Asset.slug, Asset.gated).where(Asset.status == "published"))}
        log(f"built: {len(accounts)} accounts, {len(people)} stakeholders, {len(tokens)} personalized URLs, "
            f"{len(touchpoints):,} sent emails with {len(links):,} tracked links, {len(gated)} published assets "
            f"({sum(gated.values())} gated) in {time.perf_counter() - started:.1f}s")
        db.session.remove()
        db.engine.dispose()
    return {"app": app, "config": config, "tokens": tokens, "gated": gated,
            "opens": [tracking_token(SECRET, tp) for tp in touchpoints],
            "clicks": [tracking_token(SECRET, link) for link in links]}


# --- the server ----------------------------------------------------------------------------------

def start_server(folder: Path, config: dict, args) -> tuple[subprocess.Popen, int, Path]:
    server_config = dict(config, TRUSTED_PROXIES=1)  # the client is the proxy: X-Forwarded-For names the visitor
    (folder / "bench_wsgi.py").write_text(
        "# written by bench/ingest.py: the app on the benchmark's database\n"
        + ("import atexit, cProfile, os, threading\n" if args.profile else "")
        + "from abmcontent import create_app\n\n"
        f"app = create_app({server_config!r})\n"
        + (_PROFILE_HOOK.format(folder=str(folder)) if args.profile else ""), encoding="utf-8")
    port = _setup.free_port()
    server_log = folder / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(PYTHONPATH=str(ROOT), SCHEDULER_EMBEDDED="0")
    command = [str(GUNICORN), "--workers", str(args.workers), "--worker-class", args.worker_class,
               "--bind", f"127.0.0.1:{port}", "--chdir", str(folder), "--pythonpath", f"{folder},{ROOT}",
               "--log-level", "warning", "--error-logfile", "-", "--keep-alive", "5",
               "--graceful-timeout", "30"]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    command.append("bench_wsgi:app")
    with open(server_log, "ab") as out:
        process = subprocess.Popen(command, cwd=str(folder), env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{tail(server_log)}")
        try:
            status, _body = HttpConnection("127.0.0.1", port).request(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if status == 200 and len(worker_pids(process.pid)) == args.workers:
                return process, port, server_log
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{tail(server_log)}")
        time.sleep(0.2)


_PROFILE_HOOK = """
# --profile: one cProfile per request thread, around the Flask app (gunicorn's own parsing is not in it)
_profiles, _local = [], threading.local()


def _profiled(wsgi):
    def run(environ, start_response):
        profile = getattr(_local, "profile", None)
        if profile is None:
            profile = _local.profile = cProfile.Profile()
            _profiles.append(profile)
        profile.enable()
        try:
            return list(wsgi(environ, start_response))
        finally:
            profile.disable()
    return run


app.wsgi_app = _profiled(app.wsgi_app)


@atexit.register
def _dump_profiles():
    for n, profile in enumerate(_profiles):
        profile.dump_stats(os.path.join({folder!r}, f"worker-{{os.getpid()}}-{{n}}.prof"))
"""


def stop_server(process: subprocess.Popen) -> float:
    """SIGTERM (gunicorn's graceful stop) and wait; returns the seconds it took."""
    started = time.perf_counter()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return time.perf_counter() - started


def worker_pids(master: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (all their threads)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tick


def machine_busy() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) or "(empty)"
    except FileNotFoundError:
        return "(no log)"


# --- the client ----------------------------------------------------------------------------------

class HttpConnection:
    """Blocking HTTP/1.1 on one socket, for the start-up check: send bytes, read one response."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)

    def request(self, raw: bytes) -> tuple[int, bytes]:
        with socket.create_connection(self.address, timeout=10) as sock:
            sock.sendall(raw)
            buffer = b""
            while True:
                parsed = parse_response(buffer, head=False)
                if parsed is not None:
                    return parsed[0], parsed[1]
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the connection")
                buffer += data


def parse_response(buffer: bytes, head: bool) -> tuple[int, bytes, bytes, bool] | None:
    """(status, body, what follows, connection closes) of the first response in buffer, or None
    while it is incomplete. Content-Length or chunked; no body for HEAD, 1xx, 204 and 304."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    start = end + 4
    if head or status in (204, 304) or status < 200:
        return status, b"", buffer[start:], close
    if not chunked:
        if len(buffer) < start + length:
            return None
        return status, buffer[start:start + length], buffer[start + length:], close
    parts, at = [], start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(buffer[at:line_end].split(b";")[0], 16)
        if len(buffer) < line_end + 2 + size + 2:
            return None
        parts.append(buffer[line_end + 2:line_end + 2 + size])
        at = line_end + 2 + size + 2
        if size == 0:
            return status, b"".join(parts), buffer[at:], close


VISIT = re.compile(rb'data-visit="([^"]+)"')
ASSET_LINK = re.compile(rb'href="(/p/[^"/]+/a/([^"/?]+)\?v=[^"]+)"')
CTA_LINK = re.compile(rb'href="(/p/[^"/]+/go/[^"]+)"')


class Visitor:
    """One keep-alive connection playing a visitor or a mail client: next() builds its next
    request from the mix and what it has seen; seen() keeps the visit id and links of a page."""

    def __init__(self, number: int, port: int, plan: dict, seed: int) -> None:
        self.rng = random.Random(seed)
        self.address = ("127.0.0.1", port)
        self.plan = plan
        self.visits: deque = deque(maxlen=64)  # (v, DNT flag, [(asset path, gated)], cta path)
        self.tag = number * 10_000_000
        self.weights = [plan["mix"][k] for k in KINDS]
        self.browser = self.rng.choice(BROWSERS)
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.sent = 0  # requests sent in the current phase
        self.ip = 0  # the simulated client address of the request in flight (X-Forwarded-For)
        self.waiting: tuple | None = None  # (tag, kind, flags, head, started) of the request in flight

    def connect(self) -> socket.socket:
        self.sock = socket.create_connection(self.address, timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buffer = b""
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def next(self, timed: bool) -> tuple[bytes, int, int, bool]:
        """(request bytes, kind, flags, is HEAD) of the next request."""
        rng, plan = self.rng, self.plan
        kind = rng.choices(range(len(KINDS)), self.weights)[0]
        name = KINDS[kind]
        if name in ("beacon", "asset", "cta") and not self.visits:
            kind, name = 0, KINDS[0]  # nothing seen yet: look at a page first
        if name == "cta" and self.visits[-1][3] is None:
            kind, name = KINDS.index("beacon"), "beacon"  # a page without a CTA link: nothing to click
        if name == "asset" and not self.visits[-1][2]:
            kind, name = KINDS.index("beacon"), "beacon"  # nothing recommended on it
        self.tag += 1
        flags, agent, method, body, extra = EXPECT | (TIMED if timed else 0), self.browser, "GET", b"", ""
        if name == "page_view":
            roll = rng.random()
            if roll < 0.2:
                path = f"/p/{SLUG}?utm_source=linkedin&utm_industry={rng.choice(plan['industries'])}"
                self.ip = address(ANONYMOUS, rng.randrange(ANONYMOUS_ADDRESSES))
            else:
                n = rng.randrange(len(plan["tokens"]))
                path = f"/p/{SLUG}?t={plan['tokens'][n]}"
                self.ip = address(PEOPLE, n)  # one address per person
                flags |= TOKEN
                if roll >= 0.9:
                    flags |= DNT
                    extra = rng.choice(("DNT: 1\r\n", "Sec-GPC: 1\r\n"))
        elif name == "beacon":
            visit = rng.choice(self.visits)
            flags |= visit[1]
            v, self.ip = visit[0], visit[4]
            if rng.random() < 0.02:  # forged: another signature
                v, flags = v[:-4] + ("AAAA" if not v.endswith("AAAA") else "BBBB"), flags & ~EXPECT
            body = urllib.parse.urlencode({"v": v, "s": f"{rng.uniform(2, 300):.1f}"}).encode()
            method, path = "POST", "/p/beacon"
            extra = f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        elif name == "asset":  # from the page just seen, as a reader would
            visit = self.visits[-1]
            flags |= visit[1]
            self.ip = visit[4]
            path, gated = rng.choice(visit[2])
            if gated:
                flags &= ~EXPECT
        elif name == "cta":
            visit = self.visits[-1]
            flags |= visit[1]
            self.ip = visit[4]
            path = visit[3]
        elif name == "open":
            roll = rng.random()
            n = rng.randrange(len(plan["opens"]))
            token, self.ip = plan["opens"][n], address(MAIL, n)
            if roll < 0.02:
                token, flags = token[:-3] + "xyz", flags & ~EXPECT
            elif roll < 0.12:
                agent, flags = IMAGE_PROXY, flags | PROXY
                self.ip = address(PROXIES, rng.randrange(PROXY_ADDRESSES))
            elif roll < 0.22:
                flags |= DNT
                extra = "DNT: 1\r\n"
            path = f"/o/{token}.gif"
        elif name == "click":
            n = rng.randrange(len(plan["clicks"]))
            path, self.ip = f"/r/{plan['clicks'][n]}", address(MAIL, n // LINKS_PER_EMAIL)
            if rng.random() < 0.05:
                method, flags = "HEAD", flags | HEAD
        else:  # hello
            path, flags = "/healthz", flags & ~EXPECT
            self.ip = address(ANONYMOUS, rng.randrange(ANONYMOUS_ADDRESSES))
        raw = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {agent} ingest/{self.tag}\r\n"
               f"X-Forwarded-For: {ip_text(self.ip)}\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.9\r\n"
               f"{extra}\r\n").encode() + body
        return raw, kind, flags, method == "HEAD"

    def seen(self, kind: int, flags: int, status: int, content: bytes) -> None:
        if kind == 0 and status == 200:
            found = VISIT.search(content)
            if found:
                assets = [(p.decode().replace("&amp;", "&"), self.plan["gated"].get(s.decode(), False))
                          for p, s in ASSET_LINK.findall(content)]
                cta = CTA_LINK.search(content)
                self.visits.append((found.group(1).decode(), flags & DNT, assets,
                                    cta.group(1).decode().replace("&amp;", "&") if cta else None, self.ip))


def drive(visitors: list[Visitor], records: dict, timed: bool, until, per_visitor: int = 0) -> None:
    """Keep every visitor's connection busy, one request in flight each, with one selector:
    until time.perf_counter() passes `until` (timed), or each has sent `per_visitor` requests."""
    selector = selectors.DefaultSelector()

    def send(visitor: Visitor) -> bool:
        if (timed and time.perf_counter() >= until) or (not timed and visitor.sent >= per_visitor):
            return False
        raw, kind, flags, head = visitor.next(timed)
        for attempt in (1, 2):
            try:
                if visitor.sock is None:
                    selector.register(visitor.connect(), selectors.EVENT_READ, visitor)
                visitor.waiting = (visitor.tag, kind, flags, head, time.perf_counter())
                visitor.sock.sendall(raw)  # a few hundred bytes into an empty socket buffer
                break
            except OSError:
                drop(visitor)
                if attempt == 2:  # the server refuses connections: count it, and this visitor stops
                    finish(visitor, 0, b"")
                    return False
        visitor.sent += 1
        return True

    def drop(visitor: Visitor) -> None:
        if visitor.sock is not None:
            try:
                selector.unregister(visitor.sock)
            except (KeyError, ValueError):
                pass
            visitor.close()

    def finish(visitor: Visitor, status: int, content: bytes) -> None:
        tag, kind, flags, _head, started = visitor.waiting
        records["latency"].append(time.perf_counter() - started)
        records["ip"].append(visitor.ip)
        records["tag"].append(tag)
        records["kind"].append(kind)
        records["flags"].append(flags)
        records["status"].append(status)
        visitor.waiting = None
        visitor.seen(kind, flags, status, content)

    active = sum(send(visitor) for visitor in visitors)
    while active:
        for key, _events in selector.select(timeout=30):
            visitor = key.data
            try:
                data = visitor.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                visitor.buffer += data
                parsed = parse_response(visitor.buffer, visitor.waiting[3])
                if parsed is None:
                    continue
                status, content, visitor.buffer, close = parsed
                finish(visitor, status, content)
                if close:
                    drop(visitor)
            else:  # closed before a whole answer: no answer (counted as an error)
                drop(visitor)
                finish(visitor, 0, b"")
            if not send(visitor):
                active -= 1
                drop(visitor)
    selector.close()


def client_process(number: int, port: int, plan: dict, connections: int, warmup: int, seconds: float,
                   go, results) -> None:
    """`connections` visitors driven by one selector: `warmup` requests each, then, from `go`,
    requests for `seconds`."""
    visitors = [Visitor(number * 100 + n + 1, port, plan, seed=number * 1000 + n) for n in range(connections)]
    records = {"tag": array("q"), "kind": array("b"), "flags": array("b"), "status": array("h"),
               "latency": array("d"), "ip": array("l")}
    drive(visitors, records, False, None, warmup)
    for visitor in visitors:
        visitor.sent = 0
    results.put(("ready", number))
    go.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    drive(visitors, records, True, start + seconds)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for visitor in visitors:
        visitor.close()
    results.put(("done", number, {k: v.tobytes() for k, v in records.items()},
                 usage.ru_utime + usage.ru_stime - cpu_before, wall))


# --- the outage ----------------------------------------------------------------------------------

def hold_write_lock(database_url: str, sqlite_file: str | None, start: float, seconds: float, done: dict) -> None:
    time.sleep(max(0.0, start - time.perf_counter()))
    done["started"] = time.perf_counter()
    if sqlite_file:
        conn = sqlite3.connect(sqlite_file, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        done["locked"] = time.perf_counter()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(database_url)
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE engagement_events IN EXCLUSIVE MODE"))
            done["locked"] = time.perf_counter()
            time.sleep(seconds)
            conn.commit()
        engine.dispose()
    done["ended"] = time.perf_counter()


# --- the accounting ------------------------------------------------------------------------------

def account(records: dict, rows: list) -> dict:
    """Match stored rows to requests by the number in the User-Agent."""
    tags, kinds, flags, statuses = records["tag"], records["kind"], records["flags"], records["status"]
    index = {tag: n for n, tag in enumerate(tags)}
    stored = Counter()
    wrong = Counter()
    untagged = unexpected = 0
    for agent, type_, contact_id, machine in rows:
        found = TAG.search(agent or "")
        n = index.get(int(found.group(1))) if found else None
        if n is None:
            untagged += 1
            continue
        stored[n] += 1
        if not 200 <= statuses[n] < 400:
            continue  # no answer, or an error (counted as such): a row or none, either is right
        if not flags[n] & EXPECT:
            unexpected += 1
            continue
        if type_ != EVENT_OF[kinds[n]]:
            wrong["type"] += 1
        if flags[n] & DNT and contact_id is not None:
            wrong["contact_under_dnt"] += 1
        want = "image_proxy" if flags[n] & PROXY else "head_request" if flags[n] & HEAD else ""
        if EVENT_OF[kinds[n]] in ("email_open", "email_click") and machine != want:
            wrong["machine_flag"] += 1
    expected = [n for n in range(len(tags)) if flags[n] & EXPECT and 200 <= statuses[n] < 400]
    lost = sum(1 for n in expected if not stored[n])
    duplicates = sum(count - 1 for count in stored.values() if count > 1)
    timed_stored = sum(1 for n, count in stored.items() if flags[n] & TIMED and flags[n] & EXPECT)
    return {"expected": len(expected), "stored": sum(stored.values()), "lost": lost, "duplicates": duplicates,
            "unexpected": unexpected, "untagged": untagged, "wrong": dict(wrong), "timed_stored": timed_stored}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def read_rows(app) -> list:
    with app.app_context():
        with db.engine.connect() as conn:
            rows = list(conn.execute(select(EngagementEvent.user_agent, EngagementEvent.type,
                                            EngagementEvent.contact_id, EngagementEvent.machine)))
        db.engine.dispose()
    return rows


def count_rows(app) -> int:
    with app.app_context():
        with db.engine.connect() as conn:
            count = conn.scalar(select(func.count(EngagementEvent.id)))
        db.engine.dispose()
    return count


def print_profiles(folder: Path, top: int = 35) -> None:
    import io
    import pstats

    files = sorted(str(p) for p in folder.glob("worker-*.prof"))
    if not files:
        log("no worker profiles were written")
        return
    out = io.StringIO()
    stats = pstats.Stats(*files, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="timed load duration (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections per client (default 8)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per connection first (default 30)")
    parser.add_argument("--db-outage", type=float, default=0.0, metavar="SECONDS",
                        help="hold the database's write lock this long, from 3 s into the load")
    parser.add_argument("--database-url", default="", help="an EMPTY PostgreSQL database instead of SQLite")
    parser.add_argument("--mix", default="", metavar="KIND=SHARE,…",
                        help="another mix, e.g. open=100 for pixels alone (kinds: " + ", ".join(KINDS) + ")")
    parser.add_argument("--profile", action="store_true", help="cProfile each worker; print the top functions")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print its path")
    args = parser.parse_args()
    mix = {k: share for k, (share, _type) in MIX.items()}
    if args.mix:
        mix = dict.fromkeys(KINDS, 0)
        for part in args.mix.split(","):
            kind, _, share = part.partition("=")
            if kind.strip() not in mix:
                parser.error(f"--mix: unknown kind {kind!r}")
            mix[kind.strip()] = float(share)
    seconds = max(args.seconds, OUTAGE_START + args.db_outage + 8.0) if args.db_outage else args.seconds
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="abm-bench-ingest-"))
    process = None
    failed = []
    try:
        data = build(folder, args.database_url)
        app = data["app"]
        process, port, server_log = start_server(folder, data["config"], args)
        workers = worker_pids(process.pid)
        log(f"gunicorn: {args.workers} {args.worker_class} workers"
            + (f" × {args.threads} threads" if args.worker_class == "gthread" else "")
            + f" on 127.0.0.1:{port}; load: {args.clients} client processes × {args.connections} keep-alive "
            f"connections, {seconds:g} s after {args.warmup} warm-up requests each")
        plan = {"mix": mix, "tokens": data["tokens"], "opens": data["opens"], "clicks": data["clicks"], "gated": data["gated"],
                "industries": ["financials", "health_care", "industrials", "information_technology", "energy"]}
        context = multiprocessing.get_context("fork")
        go, results = context.Event(), context.Queue()
        clients = [context.Process(target=client_process, daemon=True,
                                   args=(n, port, plan, args.connections, args.warmup, seconds, go, results))
                   for n in range(args.clients)]
        for client in clients:
            client.start()
        for _ in clients:
            message = results.get(timeout=300)
            assert message[0] == "ready"
        load_before = os.getloadavg()[0]
        server_cpu_before = cpu_seconds([process.pid] + workers)
        busy_before = machine_busy()
        outage: dict = {}
        holder = None
        load_start = time.perf_counter()
        if args.db_outage:
            sqlite_file = None if args.database_url else str(folder / "bench.db")
            holder = threading.Thread(target=hold_write_lock, daemon=True,
                                      args=(args.database_url, sqlite_file, load_start + OUTAGE_START,
                                            args.db_outage, outage))
            holder.start()
        go.set()
        finished = [results.get(timeout=seconds + 600) for _ in clients]
        load_wall = max(message[4] for message in finished)
        server_cpu = cpu_seconds([process.pid] + workers) - server_cpu_before
        client_cpu = sum(message[3] for message in finished)
        busy_after = machine_busy()
        tick = os.sysconf("SC_CLK_TCK")
        machine_cpu = (busy_after[0] - busy_before[0]) / tick  # every process's, ours and others'
        others_cpu = max(0.0, machine_cpu - server_cpu - client_cpu)
        if holder is not None:
            holder.join(timeout=120)
        for client in clients:
            client.join(timeout=10)
        records = {"tag": array("q"), "kind": array("b"), "flags": array("b"), "status": array("h"),
                   "latency": array("d"), "ip": array("l")}
        for message in finished:
            for key, raw in message[2].items():
                part = array(records[key].typecode)
                part.frombytes(raw)
                records[key].extend(part)
        in_table_at_end = count_rows(app)
        stop_s = stop_server(process)
        spool = folder / "spool"
        spool_left = len([n for n in os.listdir(spool) if n.startswith("events-")]) if spool.exists() else 0
        with app.app_context():
            replayed = tracking.flush(app)  # what the stopped workers left in the spool, as tracking.py replays it
            pending = tracking.pending(app)
            db.engine.dispose()
        server_text = server_log.read_text(encoding="utf-8", errors="replace")
        writer_failures = len(re.findall(r"tracking: could not store \d+ events", server_text))
        tracebacks = server_text.count("Traceback")
        rows = read_rows(app)
        figures = account(records, rows)

        timed = [n for n in range(len(records["tag"])) if records["flags"][n] & TIMED]
        statuses = records["status"]
        errors = sum(1 for n in range(len(statuses)) if not 200 <= statuses[n] < 400)
        latencies = [records["latency"][n] * 1000 for n in timed]
        per_kind = {}
        for k, name in enumerate(KINDS):
            chosen = [n for n in timed if records["kind"][n] == k]
            lat = [records["latency"][n] * 1000 for n in chosen]
            per_kind[name] = {"requests": len(chosen), "p50_ms": round(percentile(lat, 50), 2),
                              "p99_ms": round(percentile(lat, 99), 2),
                              "errors": sum(1 for n in chosen if not 200 <= statuses[n] < 400),
                              "statuses": dict(Counter(statuses[n] for n in chosen))}
        timed_requests = len(timed)
        expected_at_end = figures["expected"]
        limited = sum(1 for status in statuses if status == 429)
        per_address = Counter((LIMIT_OF.get(KINDS[records["kind"][n]]), records["ip"][n]) for n in timed)
        busiest: dict[str, float] = {}
        for (name, _ip), count in per_address.items():
            if name:
                busiest[name] = max(busiest.get(name, 0.0), round(count / load_wall * 60, 1))
        result = {
            "events_per_second": round(figures["timed_stored"] / load_wall, 1),
            "lost": figures["lost"], "duplicates": figures["duplicates"], "errors": errors,
            "unexpected": figures["unexpected"], "wrong": sum(figures["wrong"].values()),
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "requests_per_second": round(timed_requests / load_wall, 1),
            "limited": limited, "addresses": len({records["ip"][n] for n in timed}),
            "busiest_address_per_minute": busiest,
            "events": figures["stored"], "expected": figures["expected"], "requests": len(statuses),
            "timed_requests": timed_requests, "load_s": round(load_wall, 2),
            "backlog_at_end": max(0, expected_at_end - in_table_at_end),
            "views_per_personalized_url": round(
                sum(1 for f in records["flags"] if f & TOKEN) / max(1, len(data["tokens"])), 1),
            "database": "postgresql" if args.database_url else "sqlite",
            "mix": ",".join(f"{k}={v:g}" for k, v in mix.items() if v),
            "worker_class": args.worker_class, "workers": args.workers,
            "threads": args.threads if args.worker_class == "gthread" else 1,
            "client_processes": args.clients, "connections": args.clients * args.connections,
            "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2),
            "server_cpu_us_per_request": round(server_cpu / max(1, timed_requests) * 1e6, 1),
            "client_cpu_us_per_request": round(client_cpu / max(1, timed_requests) * 1e6, 1),
            "client_cpu_share": round(client_cpu / max(1e-9, client_cpu + server_cpu), 3),
            "cpu_busy_share": round((client_cpu + server_cpu) / (load_wall * (os.cpu_count() or 1)), 3),
            "others_cpu_share": round(others_cpu / (load_wall * (os.cpu_count() or 1)), 3),
            "db_outage_s": args.db_outage, "writer_failures": writer_failures, "spool_files_at_stop": spool_left,
            "replayed_after_stop": replayed, "rejected_files": pending["rejected_files"],
            "server_tracebacks": tracebacks, "stop_s": round(stop_s, 2),
            "loadavg_1m_before": round(load_before, 2), "total_s": 0.0,
        }
        if outage:
            result["outage_locked_s"] = round(outage.get("ended", 0) - outage.get("locked", 0), 2)
        result["total_s"] = round(time.perf_counter() - started, 1)

        print()
        print(f"{'kind':<11}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}  statuses")
        for name, row in per_kind.items():
            print(f"{name:<11}{row['requests']:>10,}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['errors']:>8}  "
                  f"{row['statuses']}")
        print(f"{timed_requests:,} requests in {load_wall:.1f} s ({result['requests_per_second']:,.0f}/s); "
              f"{figures['timed_stored']:,} of their events stored: {result['events_per_second']:,.0f} events/s "
              f"(target ≥ 2,000); p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
        print(f"accounting over all {len(statuses):,} requests (warm-up included): expected {figures['expected']:,}, "
              f"stored {figures['stored']:,}, lost {figures['lost']}, duplicates {figures['duplicates']}, "
              f"unexpected {figures['unexpected']}, wrong {figures['wrong'] or 0}, untagged {figures['untagged']}, "
              f"errors {errors}")
        print(f"rate limits: {limited} requests refused (429; a limited pixel or link still answers but records "
              f"nothing, so it would show as lost); {result['addresses']:,} client addresses; the busiest address "
              f"a minute, per limit: " + ", ".join(f"{name} {rate:g}" for name, rate in sorted(busiest.items())))
        print(f"writer lag: {result['backlog_at_end']:,} events not yet in the table when the load stopped; "
              f"graceful stop {result['stop_s']} s; failed inserts spooled {writer_failures}, spool files at stop "
              f"{spool_left}, replayed after stop {replayed}")
        print(f"CPU: server {server_cpu:.1f} s ({result['server_cpu_us_per_request']} µs/request), clients "
              f"{client_cpu:.1f} s ({result['client_cpu_us_per_request']} µs/request, "
              f"{result['client_cpu_share']:.0%} of the CPU used); {result['cpu_busy_share']:.0%} of "
              f"{os.cpu_count()} cores busy with this, {result['others_cpu_share']:.0%} with other processes "
              f"(PostgreSQL's own among them, if used); "
              f"load average before {load_before:.2f}")
        if outage:
            print(f"outage: write lock held {result['outage_locked_s']} s from {OUTAGE_START:g} s into the load")
        if figures["lost"] or figures["duplicates"] or errors or figures["unexpected"] or figures["wrong"]:
            failed.append("lost, duplicated, unexpected or wrong events, or error answers")
        if tracebacks:
            failed.append(f"{tracebacks} tracebacks in the server log")
        if failed:
            print("FAILED: " + "; ".join(failed) + f"\nserver log:\n{tail(server_log)}", file=sys.stderr)
        if args.profile:
            print_profiles(folder)
        if args.keep:
            print(f"kept {folder}")
        print(json.dumps(result))
    finally:
        if process is not None and process.poll() is None:
            stop_server(process)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
