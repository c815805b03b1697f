"""The Redis throttle shares failure counts between processes, keeps a burst within the limit, and
fails open when Redis is down."""

from __future__ import annotations

import logging
import socket
import threading
import uuid

import pytest
import redis

from couponry.adapters.throttle import RedisThrottle, Verdict

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"Redis is expected at 127.0.0.1:6379 (scripts/test.sh starts it): {exc}")
    return REDIS_URL


@pytest.fixture
def key() -> str:
    """A key name of this test's own: suites of other checkouts may share this Redis at the same time."""
    return f"key-{uuid.uuid4().hex}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_throttles_on_one_redis_share_their_counts(redis_url: str, key: str) -> None:
    # given: two processes' throttles
    first = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)
    second = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)

    # when: each sees part of the failures
    first.record_failures(key, 8)
    second.record_failures(key, 5)

    # then: both judge on the sum
    assert first.failures(key) == second.failures(key) == 13
    assert second.advise(key) == Verdict(delay=0.3, retry_after=None)  # what it last saw: 13

    first.record_failures(key, 17)
    refused = second.reserve(key, 1)
    assert refused.retry_after is not None and 1 <= refused.retry_after <= 60
    assert second.advise(key).retry_after is not None  # and it remembers, without asking Redis again


def test_a_reservation_is_given_back_when_its_codes_were_known(redis_url: str, key: str) -> None:
    throttle = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)

    reservation = throttle.reserve(key, 5)
    assert throttle.failures(key) == 5
    throttle.settle(reservation, 1)

    assert throttle.failures(key) == 1


def test_concurrent_reservations_from_two_processes_never_pass_the_limit(redis_url: str, key: str) -> None:
    # given: a key primed one failure below the limit, two processes' throttles
    throttles = [
        RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=3600) for _ in range(2)
    ]
    throttles[0].record_failures(key, 29)
    barrier = threading.Barrier(40)
    granted: list[int] = []

    def guess(throttle: RedisThrottle) -> None:
        barrier.wait()
        reservation = throttle.reserve(key, 1)
        if reservation.retry_after is None:
            granted.append(1)
            throttle.settle(reservation, 1)

    # when: 40 threads guess at once through both
    threads = [threading.Thread(target=guess, args=(throttles[i % 2],)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: one guess got through, and the refused reservations were all undone
    assert len(granted) == 1
    assert throttles[1].failures(key) == 30


def test_the_counter_key_expires_with_its_window(redis_url: str, key: str) -> None:
    throttle = RedisThrottle(redis_url, slow_after=10, block_after=30, window_seconds=60)
    throttle.record_failures(key, 3)

    client = redis.Redis.from_url(redis_url)
    (name,) = client.keys(f"couponry:throttle:{key}:*")
    assert 1 <= client.ttl(name) <= 61
    assert throttle.failures(key) == 3
    client.close()


def test_it_fails_open_with_a_warning_when_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture, key: str
) -> None:
    throttle = RedisThrottle(
        f"redis://127.0.0.1:{_closed_port()}/0", slow_after=0, block_after=1, window_seconds=60
    )

    with caplog.at_level(logging.WARNING, logger="couponry.adapters.throttle"):
        throttle.record_failures(key, 100)
        reservation = throttle.reserve(key, 5)

    assert reservation.retry_after is None
    assert throttle.advise(key) == Verdict(delay=0.0, retry_after=None)
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)
