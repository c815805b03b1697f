"""Failed code look-ups are slowed, then refused, per API key and window (in-memory throttle); attempts
reserved before codes are looked up keep any burst within the limit."""

from __future__ import annotations

import threading

import pytest

from couponry.adapters.throttle import MemoryThrottle, RedisThrottle, Verdict, make_throttle, refuses


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def throttle(clock: FakeClock) -> MemoryThrottle:
    return MemoryThrottle(slow_after=10, block_after=30, window_seconds=60, clock=clock)


def test_a_key_with_failures_up_to_the_slow_threshold_is_answered_at_once(throttle: MemoryThrottle) -> None:
    throttle.record_failures("k1", 10)

    assert throttle.advise("k1") == Verdict(delay=0.0, retry_after=None)


def test_each_failure_over_the_slow_threshold_adds_a_tenth_of_a_second(throttle: MemoryThrottle) -> None:
    throttle.record_failures("k1", 13)

    assert throttle.advise("k1") == Verdict(delay=0.3, retry_after=None)


def test_the_delay_is_capped_at_two_seconds() -> None:
    throttle = MemoryThrottle(slow_after=1, block_after=100, window_seconds=60)
    throttle.record_failures("k1", 50)

    assert throttle.advise("k1").delay == 2.0


def test_a_key_is_refused_at_the_block_threshold_until_the_window_ends(
    throttle: MemoryThrottle, clock: FakeClock
) -> None:
    # given: the window is [960, 1020) and 15.5 s of it are left
    clock.now = 1004.5
    throttle.record_failures("k1", 29)
    assert throttle.advise("k1").retry_after is None

    # when
    throttle.record_failures("k1")

    # then
    assert throttle.advise("k1") == Verdict(delay=0.0, retry_after=16)


def test_retry_after_is_at_least_one_second(throttle: MemoryThrottle, clock: FakeClock) -> None:
    clock.now = 1019.99
    throttle.record_failures("k1", 30)

    assert throttle.advise("k1").retry_after == 1


def test_a_new_window_forgives_past_failures_and_forgets_them(
    throttle: MemoryThrottle, clock: FakeClock
) -> None:
    throttle.record_failures("k1", 40)
    assert throttle.advise("k1").retry_after is not None

    clock.now += 60

    assert throttle.advise("k1") == Verdict(delay=0.0, retry_after=None)
    assert throttle.failures("k1") == 0
    assert throttle._counts == {}


def test_failures_of_one_key_do_not_slow_another(throttle: MemoryThrottle) -> None:
    throttle.record_failures("k1", 40)

    assert throttle.advise("k2") == Verdict(delay=0.0, retry_after=None)


def test_recording_zero_failures_changes_nothing(throttle: MemoryThrottle) -> None:
    throttle.record_failures("k1", 0)

    assert throttle.failures("k1") == 0


def test_failures_recorded_from_several_threads_are_all_counted() -> None:
    throttle = MemoryThrottle(slow_after=10, block_after=30, window_seconds=3600)
    barrier = threading.Barrier(8)

    def hammer(key: str) -> None:
        barrier.wait()
        for _ in range(500):
            throttle.record_failures(key)
            throttle.advise(key)

    threads = [threading.Thread(target=hammer, args=(f"k{i % 2}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert throttle.failures("k0") == 2000
    assert throttle.failures("k1") == 2000


def test_a_reservation_counts_its_attempts_until_settled_with_the_failures(throttle: MemoryThrottle) -> None:
    reservation = throttle.reserve("k1", 5)
    assert reservation.retry_after is None
    assert throttle.failures("k1") == 5

    throttle.settle(reservation, 2)  # three of the five codes were known

    assert throttle.failures("k1") == 2


def test_a_reservation_that_would_pass_the_limit_is_refused_and_reserves_nothing(
    throttle: MemoryThrottle, clock: FakeClock
) -> None:
    # given: 28 failures of a limit of 30, 16 s before the window ends
    clock.now = 1004.0
    throttle.record_failures("k1", 28)

    # when: three more codes would take the key to 31
    refused = throttle.reserve("k1", 3)

    # then
    assert refused.retry_after == 16
    assert throttle.failures("k1") == 28
    assert throttle.reserve("k1", 2).retry_after is None
    assert throttle.reserve("k1", 0).retry_after == 16  # at the limit even a request without codes waits


def test_a_keys_first_request_of_a_window_is_served_whatever_its_number_of_codes() -> None:
    assert not refuses(0, 20, block_after=6)
    assert refuses(1, 20, block_after=6)
    assert refuses(6, 0, block_after=6)


def test_a_settlement_after_the_window_ended_gives_nothing_back_to_the_next_window(
    throttle: MemoryThrottle, clock: FakeClock
) -> None:
    reservation = throttle.reserve("k1", 5)
    clock.now += 60

    throttle.settle(reservation, 0)

    assert throttle.failures("k1") == 0
    assert throttle.reserve("k1", 30).retry_after is None


def test_concurrent_reservations_never_let_more_failures_through_than_the_limit() -> None:
    # given: a key primed one failure below the limit
    throttle = MemoryThrottle(slow_after=10, block_after=30, window_seconds=3600)
    throttle.record_failures("k1", 29)
    barrier = threading.Barrier(50)
    granted: list[int] = []

    def guess() -> None:
        barrier.wait()
        reservation = throttle.reserve("k1", 1)
        if reservation.retry_after is None:
            granted.append(1)
            throttle.settle(reservation, 1)  # the guess was wrong

    # when: 50 threads guess at once
    threads = [threading.Thread(target=guess) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: one guess got through
    assert len(granted) == 1
    assert throttle.failures("k1") == 30


class _Settings:
    throttle_slow_after = 10
    throttle_block_after = 30
    throttle_window_seconds = 60

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url


def test_make_throttle_counts_in_memory_without_redis_and_in_redis_with_it() -> None:
    assert isinstance(make_throttle(_Settings(None)), MemoryThrottle)
    assert isinstance(make_throttle(_Settings("redis://127.0.0.1:1/0")), RedisThrottle)
