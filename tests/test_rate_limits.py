"""Rate limits (abmcontent.rate_limits): named limits from RATE_LIMITS, counted by the `limits` library."""
from __future__ import annotations

import time

import pytest
from limits.errors import StorageError

from abmcontent import rate_limits


@pytest.fixture
def limits(app):
    app.config["RATE_LIMITS"] = {"page": "3/minute", "quick": "2 per 1 second"}
    return app


def test_the_request_past_the_limit_is_refused_and_remaining_counts_down(limits):
    decisions = [rate_limits.hit(limits, "page", "192.0.2.1") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert {d.limit for d in decisions} == {3}
    assert 55 < decisions[0].reset_at - time.time() <= 60


def test_the_count_starts_again_when_the_window_has_passed(limits):
    first = rate_limits.hit(limits, "quick", "192.0.2.1")
    assert rate_limits.hit(limits, "quick", "192.0.2.1").allowed
    assert not rate_limits.hit(limits, "quick", "192.0.2.1").allowed
    time.sleep(max(0.0, first.reset_at - time.time()) + 0.05)
    again = rate_limits.hit(limits, "quick", "192.0.2.1")
    assert again.allowed and again.remaining == 1


def test_each_address_and_each_limit_is_counted_on_its_own(limits):
    for _ in range(3):
        rate_limits.hit(limits, "page", "192.0.2.1")
    assert not rate_limits.hit(limits, "page", "192.0.2.1").allowed
    assert rate_limits.hit(limits, "page", "192.0.2.2").allowed
    assert rate_limits.hit(limits, "page", "2001:db8::1").allowed
    assert rate_limits.hit(limits, "quick", "192.0.2.1").allowed


def test_peek_tells_without_counting(limits):
    for _ in range(5):
        assert rate_limits.peek(limits, "page", "192.0.2.1").allowed
    assert rate_limits.hit(limits, "page", "192.0.2.1").remaining == 2
    rate_limits.hit(limits, "page", "192.0.2.1")
    rate_limits.hit(limits, "page", "192.0.2.1")
    assert not rate_limits.peek(limits, "page", "192.0.2.1").allowed


def test_the_hot_path_check_counts_like_hit(limits):
    assert [rate_limits.allowed(limits, "page", "192.0.2.1") for _ in range(4)] == [True, True, True, False]
    assert not rate_limits.hit(limits, "page", "192.0.2.1").allowed


def test_headers_say_the_limit_what_remains_and_when_it_resets_and_retry_after_when_refused():
    allowed = rate_limits.Decision(True, 600, 599, reset_at=1_000_042.2)
    assert rate_limits.headers(allowed, now=1_000_000.0) == [
        ("RateLimit-Limit", "600"), ("RateLimit-Remaining", "599"), ("RateLimit-Reset", "43")]
    refused = rate_limits.Decision(False, 600, 0, reset_at=1_000_042.2)
    assert rate_limits.headers(refused, now=1_000_000.0)[-1] == ("Retry-After", "43")
    late = rate_limits.Decision(False, 600, 0, reset_at=999_999.0)  # the window just ended
    assert dict(rate_limits.headers(late, now=1_000_000.0))["Retry-After"] == "1"


def test_limits_come_from_rate_limits_and_the_defaults_fill_what_an_instance_leaves_out(app):
    app.config["RATE_LIMITS"] = {"page": "5/second"}
    assert rate_limits.spec(app, "page") == "5/second"
    assert rate_limits.spec(app, "pixel") == "3000/minute"
    with pytest.raises(KeyError):
        rate_limits.spec(app, "no-such-limit")


def test_unknown_tokens_keep_their_own_settings_unless_rate_limits_names_them(app):
    app.config.update(TOKEN_MISS_LIMIT=7, TOKEN_MISS_WINDOW=120)
    assert rate_limits.spec(app, "token_miss") == "7 per 120 seconds"
    app.config["RATE_LIMITS"] = {"token_miss": "3/hour"}
    assert rate_limits.spec(app, "token_miss") == "3/hour"


def test_the_storage_uri_comes_from_the_environment(monkeypatch, tmp_path):
    from abmcontent import config

    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://cache.internal:6379")
    assert config.from_environment(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379"
    monkeypatch.delenv("RATELIMIT_STORAGE_URI")
    assert config.from_environment(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"


def test_a_failing_storage_lets_requests_through(limits, monkeypatch, caplog):
    limiter = rate_limits._limiter(limits)

    def broken(*args, **kwargs):
        raise StorageError(ConnectionError("redis is away"))

    monkeypatch.setattr(limiter.strategy, "hit", broken)
    decision = rate_limits.hit(limits, "page", "192.0.2.1")
    assert decision.allowed and decision.limit == 3
    assert rate_limits.allowed(limits, "page", "192.0.2.1")
    assert "allowing requests meanwhile" in caplog.text


def test_each_app_counts_apart(limits, tmp_path):
    from abmcontent import create_app

    other = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.db'}",
                        "instance_path": str(tmp_path), "RATE_LIMITS": {"page": "3/minute"}})
    for _ in range(3):
        rate_limits.hit(limits, "page", "192.0.2.1")
    assert rate_limits.hit(other, "page", "192.0.2.1").allowed


def test_memory_counters_are_swept_every_few_seconds_not_a_hundred_times_a_second(limits):
    rate_limits.hit(limits, "page", "192.0.2.1")
    time.sleep(0.05)  # the library's first sweep, 10 ms after start, has run
    rate_limits.hit(limits, "page", "192.0.2.2")
    storage = rate_limits._limiter(limits).strategy.storage
    assert isinstance(storage, rate_limits._Memory)
    assert storage.timer.interval == rate_limits.SWEEP_EVERY and storage.timer.daemon
