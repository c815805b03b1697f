"""The Redis throttle shares failure counts between processes and fails open when Redis is down."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
import redis

from couponry.adapters.throttle import RedisThrottle, Verdict

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.RedisError as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"Redis is expected at {REDIS_URL} (scripts/test.sh starts it): {exc}")
    yield REDIS_URL
    client.flushdb()
    client.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_throttles_on_one_redis_share_their_counts(redis_url: str) -> None:
    # given: two processes' throttles
    first = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)
    second = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)

    # when: each sees part of the failures
    first.record_failures("key-1", 8)
    second.record_failures("key-1", 5)

    # then: both judge on the sum
    assert first.check("key-1") == Verdict(delay=0.3, retry_after=None)
    assert second.check("key-1") == Verdict(delay=0.3, retry_after=None)

    first.record_failures("key-1", 17)
    verdict = second.check("key-1")
    assert verdict.retry_after is not None and 1 <= verdict.retry_after <= 60


def test_the_counter_key_expires_with_its_window(redis_url: str) -> None:
    throttle = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)
    throttle.record_failures("key-1", 3)

    client = redis.Redis.from_url(redis_url)
    (name,) = client.keys("couponry:throttle:key-1:*")
    assert 1 <= client.ttl(name) <= 60
    assert throttle.failures("key-1") == 3
    client.close()


def test_it_fails_open_with_a_warning_when_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    throttle = RedisThrottle(
        f"redis://127.0.0.1:{_closed_port()}/0", slow_after=0, block_after=1, window_seconds=60
    )

    with caplog.at_level(logging.WARNING, logger="couponry.adapters.throttle"):
        throttle.record_failures("key-1", 100)
        verdict = throttle.check("key-1")

    assert verdict == Verdict(delay=0.0, retry_after=None)
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)
