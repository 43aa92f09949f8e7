"""How often one client may do one thing (issue 7), counted by the `limits` library.

Why this shape
--------------
* Named limits, written as `limits` strings: app.config["RATE_LIMITS"] = {"page": "600/minute", …};
  an instance overrides any of them in instance/settings.py. The keys are whatever the caller
  counts by: the client IP for visitors (as ProxyFix resolved it, see web.public.client_ip), a
  token id for the API.
* Storage from RATELIMIT_STORAGE_URI. The default, memory://, counts in each process: with N
  gunicorn workers on M machines a client's requests spread over them, so a client gets up to
  N × M times a limit before a refusal. For one count per deployment point it at redis://… or
  memcached://… (the `limits` storage URIs; their client library must be installed).
* Fixed window: one counter per key and window, ~3 µs a hit in memory. Moving window keeps an
  entry per request (up to the limit) per key and its expiry sweep walks them all: measured at
  2,000 hits/s over 20,000 addresses, the library's sweep (every 10 ms) cost 16% of a core with
  fixed window and 64% with moving window; the sliding-window counter ~2x a fixed window's hit.
  Fixed window's known flaw, up to twice the limit across a window boundary, does not matter for
  limits this generous.
* A limiter must never take the site down: when the storage fails (redis away), the request is
  allowed and the failure logged, at most once a minute.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)

EXTENSION = "abm_rate_limits"
SWEEP_EVERY = 5.0  # seconds between sweeps of expired counters in memory://


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window ends and the count starts again


class _Memory(MemoryStorage):
    """memory:// with the expiry sweep every SWEEP_EVERY s instead of every 10 ms.

    The library's sweep walks every counter 100 times a second while hits arrive: measured
    with 20,000 visitor addresses, 16% of a core at 2,000 hits/s, for a hit that costs 3 µs. An
    expired counter is already ignored when read, so the sweep only frees memory, and every few
    seconds does that as well. (No STORAGE_SCHEME: memory:// stays the library's own.)
    """

    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_EVERY, self._MemoryStorage__expire_events)
            self.timer.daemon = True  # a pending sweep must not hold up a worker's exit
            self.timer.start()

    def _MemoryStorage__expire_events(self) -> None:
        try:
            MemoryStorage._MemoryStorage__expire_events(self)
        except (KeyError, RuntimeError):  # a request expired a key meanwhile; the next sweep goes on
            pass


class _Limiter:
    """The storage and strategy of one app in one process (rebuilt after a fork)."""

    def __init__(self, uri: str) -> None:
        self.uri, self.pid = uri, os.getpid()
        storage = _Memory() if uri.rstrip("/") in ("memory:", "memory:/") else \
            storage_from_string(uri, wrap_exceptions=True)
        self.strategy = FixedWindowRateLimiter(storage)
        self.items: dict[str, RateLimitItem] = {}
        self.failed_at = 0.0


def _limiter(app) -> _Limiter:
    limiter = app.extensions.get(EXTENSION)
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    if limiter is None or limiter.pid != os.getpid() or limiter.uri != uri:
        limiter = app.extensions[EXTENSION] = _Limiter(uri)
    return limiter


def spec(app, name: str) -> str:
    """The limit `name` as its `limits` string: RATE_LIMITS[name], else the default. Unknown
    tokens keep their own settings (TOKEN_MISS_LIMIT per TOKEN_MISS_WINDOW seconds) unless
    RATE_LIMITS names "token_miss"."""
    from abmcontent.config import Defaults

    configured = (app.config.get("RATE_LIMITS") or {}).get(name) or Defaults.RATE_LIMITS.get(name)
    if configured:
        return configured
    if name == "token_miss":
        return f"{int(app.config.get('TOKEN_MISS_LIMIT', 20))} per {int(app.config.get('TOKEN_MISS_WINDOW', 600))} seconds"
    raise KeyError(f"no rate limit named {name!r} in RATE_LIMITS")


def _item(limiter: _Limiter, app, name: str) -> RateLimitItem:
    text = spec(app, name)
    item = limiter.items.get(text)
    if item is None:
        item = limiter.items[text] = parse(text)
    return item


def _storage_failed(limiter: _Limiter, error: Exception) -> None:
    now = time.monotonic()
    if now - limiter.failed_at > 60:
        log.warning("rate limits: storage %s failed (%s); allowing requests meanwhile",
                    limiter.uri.split("@")[-1], error)
    limiter.failed_at = now


def _decide(app, name: str, key: str, cost: int, count: bool) -> Decision:
    limiter = _limiter(app)
    item = _item(limiter, app, name)
    try:
        check = limiter.strategy.hit if count else limiter.strategy.test
        allowed = check(item, name, key, cost=cost)
        reset_at, remaining = limiter.strategy.get_window_stats(item, name, key)
    except StorageError as error:
        _storage_failed(limiter, error)
        return Decision(True, item.amount, item.amount, time.time() + item.get_expiry())
    return Decision(allowed, item.amount, max(0, remaining), reset_at)


def hit(app, name: str, key: str, cost: int = 1) -> Decision:
    """Count `cost` against limit `name` for `key`; refused once the window's count would pass it."""
    return _decide(app, name, key, cost, count=True)


def peek(app, name: str, key: str, cost: int = 1) -> Decision:
    """Would `cost` more be allowed? Counts nothing (for limits counted only on failure, such as
    unknown tokens: a visitor over it is refused before trying again)."""
    return _decide(app, name, key, cost, count=False)


def allowed(app, name: str, key: str) -> bool:
    """hit() for the tracking endpoints' hot path: the same count, without reading the window back."""
    limiter = _limiter(app)
    try:
        return limiter.strategy.hit(_item(limiter, app, name), name, key)
    except StorageError as error:
        _storage_failed(limiter, error)
        return True


def headers(decision: Decision, now: float | None = None) -> list[tuple[str, str]]:
    """RateLimit-Limit, -Remaining and -Reset (seconds from now), and Retry-After when refused
    (draft-ietf-httpapi-ratelimit-headers; RFC 9110 Retry-After)."""
    now = time.time() if now is None else now
    reset = str(max(0, math.ceil(decision.reset_at - now)))
    answer = [("RateLimit-Limit", str(decision.limit)), ("RateLimit-Remaining", str(decision.remaining)),
              ("RateLimit-Reset", reset)]
    if not decision.allowed:
        answer.append(("Retry-After", str(max(1, int(reset)))))
    return answer
