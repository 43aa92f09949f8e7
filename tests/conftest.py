"""Fixtures: a fresh migrated app per test, factories, PostgreSQL and a live server for browsers."""
from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import flask_babel
import pytest
import sqlalchemy as sa
from flask import g
from flask_migrate import upgrade
from werkzeug.serving import make_server

from abmcontent import create_app, library, users
from abmcontent.extensions import db
from abmcontent.models import Account, Contact

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
PASSWORD = "correct-horse-battery"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = "/usr/bin/chromium"


def _config(tmp_path: Path, database_url: str, **overrides) -> dict:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    return {
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url,
        "instance_path": str(instance), "UPLOAD_FOLDER": str(instance / "uploads"),
        "WTF_CSRF_ENABLED": False, "MAIL_URL": f"outbox://{instance / 'outbox'}",
        "PUBLIC_CACHE_SECONDS": 0,  # every change shows on the next request; test_public covers the cache
        **overrides,
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per worker; each test gets a copy (migrations run once)."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    app = create_app(_config(folder, f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _needs(what: str, available: bool) -> None:
    if not available:
        message = f"{what} is not available"
        if IN_CI:
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory, worker_id) -> str:
    """A database of our own on the throwaway cluster scripts/test.sh started, migrated once."""
    admin_url = os.environ.get("TEST_POSTGRES_URL")
    _needs("PostgreSQL (TEST_POSTGRES_URL, set by `make test`)", bool(admin_url))
    name = f"abm_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    app = create_app(_config(tmp_path_factory.mktemp("pg"), url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


def _fresh_state_per_request(app) -> None:
    """Tests keep one app context open across requests (so they share the db session);
    per-request caches living in `g` must not leak from one request to the next."""
    @app.before_request
    def forget_previous_request():
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        flask_babel.refresh()


@pytest.fixture
def app(request, tmp_path, sqlite_template):
    """The app on a fresh SQLite copy; `@pytest.mark.csrf` turns CSRF protection on."""
    path = tmp_path / "test.db"
    shutil.copy(sqlite_template, path)
    csrf = request.node.get_closest_marker("csrf") is not None
    app = create_app(_config(tmp_path, f"sqlite:///{path}", WTF_CSRF_ENABLED=csrf))
    _fresh_state_per_request(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_app(request, tmp_path, sqlite_template):
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = create_app(_config(tmp_path, url))
    with app.app_context():
        yield app
        db.session.remove()
        if request.param == "postgresql":
            _truncate_all()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories: plain functions, overridable ---------------------------------------------------

def make_user(role: str = "marketer", email: str | None = None, **overrides):
    email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    return users.create_user(email, role, overrides.pop("password", PASSWORD), NOW,
                             name=overrides.pop("name", role.title() + " User"), **overrides)


def make_asset(user=None, status: str = "draft", **overrides):
    data = library.AssetInput(
        title=overrides.pop("title", "Cut your month-end close in half"),
        slug=overrides.pop("slug", f"asset-{uuid.uuid4().hex[:8]}"),
        type=overrides.pop("type", "article"),
        language=overrides.pop("language", "en"),
        summary=overrides.pop("summary", "How finance teams close faster."),
        body=overrides.pop("body", "Hello {{ contact.first_name | \"there\" }} at {{ account.name }}."),
        stages=overrides.pop("stages", ["awareness"]),
        personas=overrides.pop("personas", ["economic_buyer"]),
        industries=overrides.pop("industries", []),
        **overrides,
    )
    return library.create_asset(data, user, NOW, status=status)


def make_contact(account_name: str = "Harborview Bank", **overrides):
    account = Account(name=account_name, domain=overrides.pop("domain", "harborview.example"),
                      industry=overrides.pop("industry", "financials"),
                      city="Boston", country="United States")
    contact = Contact(account=account, first_name=overrides.pop("first_name", "Priya"),
                      last_name=overrides.pop("last_name", "Raman"),
                      email=overrides.pop("email", "priya@harborview.example"),
                      title=overrides.pop("title", "CFO"), persona="economic_buyer", **overrides)
    db.session.add_all([account, contact])
    db.session.commit()
    return contact


def make_landing_page(user=None, slug: str = "welcome", status: str = "published", **overrides):
    """A landing page with the default sections (hero, recommended, case study, owner card, CTA)."""
    from abmcontent import landing

    user = user or make_user("marketer", email=f"lp-{uuid.uuid4().hex[:6]}@abmcontent.test")
    page = landing.create_page(landing.PageInput(
        title=overrides.pop("title", "Data platform"), slug=slug, language=overrides.pop("language", "en"),
        holdout_percent=str(overrides.pop("holdout_percent", 10))), user, NOW)
    if status == "published":
        landing.set_status(page.id, "published", user, NOW)
    return page


def login(client, user, password: str = PASSWORD):
    """Sign in through the login form, CSRF token included (whether or not CSRF is on)."""
    token = csrf_token_from(client.get("/login").text)
    response = client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def csrf_token_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# --- browser tests ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args():
    _needs(f"Chromium at {CHROMIUM}", Path(CHROMIUM).exists())
    return {
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"],
    }


class LiveURL(str):
    """The live server's base URL, carrying its app for tests that need it (e.g. the scheduler)."""

    def __new__(cls, url: str, app):
        value = super().__new__(cls, url)
        value.app = app
        return value


@contextmanager
def _serving(tmp_path, sqlite_template, with_demo: bool):
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    app = create_app(_config(tmp_path, f"sqlite:///{path}", WTF_CSRF_ENABLED=True))
    if with_demo:
        from abmcontent import demo

        with app.app_context():
            demo.load(app.config["CONTENT_FOLDER"], NOW, app.config["UPLOAD_FOLDER"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveURL(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(tmp_path, sqlite_template):
    """The app served on a loopback port with the demo data loaded; yields its base URL."""
    with _serving(tmp_path, sqlite_template, with_demo=True) as url:
        yield url


@pytest.fixture
def bare_live_server(tmp_path, sqlite_template):
    """The app served on a loopback port on an empty database, for fixtures computed by hand."""
    with _serving(tmp_path, sqlite_template, with_demo=False) as url:
        yield url


class SMTPRecorder:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives; `rcpt_reply` makes
    it answer RCPT TO with, e.g., "450 4.2.0 mailbox busy" or "550 5.1.1 no such user"."""

    def __init__(self) -> None:
        import threading

        self.messages: list = []
        self.rcpt_reply: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    recorder = SMTPRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    recorder.port = port
    recorder.url = f"smtp://127.0.0.1:{port}"
    yield recorder
    controller.stop()
