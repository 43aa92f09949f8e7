"""The one place that reads environment variables."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import MappingProxyType

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment; for local runs, one kept in the instance folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def from_environment(instance_path: str) -> dict:
    """Settings for create_app, read from the environment once."""
    instance = Path(instance_path)
    default_db = f"sqlite:///{instance / 'abmcontent.db'}"
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        "MAIL_URL": os.environ.get("MAIL_URL", f"outbox://{instance / 'outbox'}"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Cobalt Data <marketing@cobaltdata.example>"),
        "PORT": int(os.environ.get("PORT", "5000")),
        "BASE_URL": os.environ.get("BASE_URL", ""),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(instance / "uploads")),
        "PRINT_FOLDER": os.environ.get("PRINT_FOLDER", str(instance / "print")),  # direct-mail batches
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "25")) * 1024 * 1024,
        "CONTENT_FOLDER": os.environ.get("CONTENT_FOLDER", str(PROJECT_ROOT / "content")),
        "SCHEDULER_EMBEDDED": _bool(os.environ.get("SCHEDULER_EMBEDDED"), False),
        "SESSION_COOKIE_SECURE": _bool(os.environ.get("SESSION_COOKIE_SECURE"), False),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE", "UTC"),
        # How many proxies in front of the app append to X-Forwarded-For; 0 (no proxy) ignores the
        # header entirely, so a visitor cannot claim a target account's IP by sending one.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # Where rate-limit counters live: memory:// counts per process; redis://host:6379 or
        # memcached://host:11211 share one count between every worker and machine.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
    }


class Defaults:
    """Settings that do not come from the environment."""

    SQLALCHEMY_ENGINE_OPTIONS: dict = {}  # create_app adds pool_pre_ping for server databases
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session; an editor left open still saves
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("en", "ko")
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).resolve().parent / "translations")
    LIBRARY_PAGE_SIZE = 25
    PUBLIC_CACHE_SECONDS = 1.0  # landing pages re-read their definition and the library at most this often
    PUBLIC_CACHE_SIZE = 4096    # composed landing pages kept per process (a few MB)
    MAIL_DOMAIN_RATE = 120      # messages a minute to one recipient domain, per dispatcher process
    FREQUENCY_CAP = 3           # touches per account (all its people and channels) …
    FREQUENCY_DAYS = 7          # … in this many days
    TOKEN_MISS_LIMIT = 20      # unknown personalized-link tokens per client address …
    TOKEN_MISS_WINDOW = 600    # … per this many seconds, then 429 until the window passes
    # Requests per client IP (abmcontent.rate_limits; `limits` syntax), generous enough for an
    # office of a few hundred people behind one NAT address reading one campaign at once. Over
    # a limit, pages and forms answer 429, a beacon 429; a tracked link or a call to action
    # still redirects and a pixel still answers, but nothing is recorded. An instance may set
    # RATE_LIMITS = {"page": "300/minute"} alone: the others keep these values.
    RATE_LIMITS = MappingProxyType({
        "page": "600/minute",         # landing page views
        "asset": "600/minute",        # asset pages and downloads
        "form": "60/minute",          # gated-form submissions
        "cta": "600/minute",          # call-to-action clicks
        "beacon": "1200/minute",      # time-on-page beacons (one a minute per open page, one at each hide)
        "pixel": "3000/minute",       # email opens: image proxies (Gmail, Apple) fetch for many readers
        "click": "1200/minute",       # tracked email links: link scanners click for a whole company
        "unsubscribe": "60/minute",   # the unsubscribe page and its one-click POST
        "api_read": "1200/minute",    # JSON API reads, per token (a CRM paging through accounts)
        "api_write": "300/minute",    # JSON API changes, per token (event batches count once a call)
        "api_denied": "60/minute",    # JSON API calls without a valid token, per client IP
    })
    NEWS_INTERVAL_MINUTES = 60  # how often an account's news feeds are read (longer after failures)
    NEWS_ALLOW_PRIVATE = False  # read feeds on private/loopback addresses (tests; never in production)
    WEBHOOKS_ALLOW_PRIVATE = False  # post webhooks to private/loopback addresses (tests; never in production)
    WEBHOOKS_ALLOW_HTTP = False     # accept plain http:// webhook endpoints (tests, a receiver on the same host)
    # The ordered buyer journey and the personas; an instance may override them in instance/settings.py.
    JOURNEY_STAGES = ("awareness", "consideration", "decision", "onboarding", "expansion")
    PERSONAS = ("economic_buyer", "technical_evaluator", "end_user", "champion", "procurement")
    UPLOAD_EXTENSIONS = (
        ".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".txt", ".png", ".jpg", ".jpeg",
        ".gif", ".webp", ".zip", ".mp4", ".svg", ".html",
    )
