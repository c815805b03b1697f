"""Throttling of failed coupon-code look-ups per API key (SPEC §3: codes must not be guessable).

A coupon code is a bearer secret, so a client that keeps looking up unknown codes is first slowed
and then refused. Failures are counted in fixed windows of `window_seconds`:

- failures <= slow_after: answered at once;
- above slow_after: answered after 0.1 s per failure over the threshold, at most 2.0 s;
- failures reaching block_after: refused (429) with Retry-After = seconds until the window ends.

The limit holds under any burst because attempts are reserved before codes are looked up:

    reservation = throttle.reserve(key, attempts)   # atomic; refused when it would pass the limit
    ... look the codes up ...
    throttle.settle(reservation, failures)          # keep the failures, give back the rest

A reservation is refused (`retry_after` set, nothing reserved) when the key has reached block_after,
or when its attempts would take it past block_after (a key's first request of a window is always
served, so block_after may be below the number of codes one request carries). `advise(key)` gives the
delay or refusal from what this process last saw of the key, without any I/O: the caller waits with
`asyncio.sleep` before taking a thread, never with `time.sleep` on one. `key` should identify the API
key (its id), never the secret itself: it ends up in Redis key names.

`MemoryThrottle` counts per process; with several workers or hosts each keeps its own count, which
`RedisThrottle` (chosen when COUPONRY_REDIS_URL is set) lifts by sharing one counter.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

DELAY_PER_FAILURE = 0.1
MAX_DELAY = 2.0


@dataclass(frozen=True)
class Verdict:
    delay: float  # seconds to wait before answering (0 = none)
    retry_after: int | None = None  # set => refuse with 429 and this Retry-After


@dataclass(frozen=True)
class Reservation:
    """Attempts counted as failures in advance, in one window; `retry_after` set => refused."""

    key: str
    window: int
    attempts: int
    retry_after: int | None = None


class Throttle(Protocol):
    def advise(self, key: str) -> Verdict: ...

    def reserve(self, key: str, attempts: int) -> Reservation: ...

    def settle(self, reservation: Reservation, failures: int) -> None: ...

    def failures(self, key: str) -> int: ...


def verdict_for(failures: int, seconds_left: float, slow_after: int, block_after: int) -> Verdict:
    """The one rule shared by every backend, given the failures so far in the current window."""
    if failures >= block_after:
        return Verdict(delay=0.0, retry_after=_seconds(seconds_left))
    over = failures - slow_after
    return Verdict(delay=min(MAX_DELAY, round(over * DELAY_PER_FAILURE, 3)) if over > 0 else 0.0)


def refuses(failures: int, attempts: int, block_after: int) -> bool:
    """Whether `attempts` more look-ups must be refused after `failures` in this window."""
    return failures >= block_after or (failures > 0 and failures + attempts > block_after)


def _seconds(left: float) -> int:
    return max(1, math.ceil(left))


class MemoryThrottle:
    """Per-process counters; thread-safe. Old windows are dropped as soon as a new one starts."""

    def __init__(
        self,
        slow_after: int,
        block_after: int,
        window_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slow_after, self.block_after, self.window_seconds = slow_after, block_after, window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}
        self._current_window = -1

    def _window(self) -> tuple[int, float]:
        """The current window index and the seconds left in it; prunes past windows (lock held)."""
        now = self._clock()
        index = int(now // self.window_seconds)
        if index != self._current_window:
            self._counts = {wk: c for wk, c in self._counts.items() if wk[1] >= index}
            self._current_window = index
        return index, (index + 1) * self.window_seconds - now

    def failures(self, key: str) -> int:
        with self._lock:
            index, _ = self._window()
            return self._counts.get((key, index), 0)

    def advise(self, key: str) -> Verdict:
        with self._lock:
            index, left = self._window()
            failures = self._counts.get((key, index), 0)
        return verdict_for(failures, left, self.slow_after, self.block_after)

    def reserve(self, key: str, attempts: int) -> Reservation:
        with self._lock:
            index, left = self._window()
            failures = self._counts.get((key, index), 0)
            if refuses(failures, attempts, self.block_after):
                return Reservation(key, index, 0, retry_after=_seconds(left))
            if attempts:
                self._counts[(key, index)] = failures + attempts
        return Reservation(key, index, attempts)

    def settle(self, reservation: Reservation, failures: int) -> None:
        delta = failures - reservation.attempts
        if not delta:
            return
        with self._lock:
            index, _ = self._window()
            if index != reservation.window and delta < 0:
                return  # the reserved window is over: nothing left to give back
            count = self._counts.get((reservation.key, index), 0) + delta
            self._counts[(reservation.key, index)] = max(0, count)

    def record_failures(self, key: str, n: int = 1) -> None:
        """Count `n` failures that were not reserved beforehand."""
        self.settle(Reservation(key, -1, 0), n)


class RedisThrottle:
    """Counters shared by every process and host through Redis: one fixed-window key per API key.

    A reservation is one INCRBY (atomic across processes), undone by a DECRBY when it is refused; so
    under a burst a request may be refused because of another's attempt being undone, never served
    past the limit. This process remembers the last count it saw of each key for `ADVICE_SECONDS`, for
    `advise`: long enough to turn a flood away without asking Redis, short enough that a count seen
    while other requests' attempts were in flight does not refuse the key for long.

    Fails open: while Redis is unreachable nothing is throttled (and a warning is logged at most every
    `WARN_EVERY` seconds), so an outage of Redis cannot take checkout down. After a failure Redis is
    not asked again for `RETRY_AFTER_ERROR` seconds, so requests do not each pay a connect timeout.
    """

    WARN_EVERY = 60.0
    RETRY_AFTER_ERROR = 5.0
    MAX_REMEMBERED = 100_000
    ADVICE_SECONDS = 1.0

    def __init__(self, url: str, slow_after: int, block_after: int, window_seconds: int) -> None:
        self.slow_after, self.block_after, self.window_seconds = slow_after, block_after, window_seconds
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        self._down_until = 0.0
        self._last_warning = -math.inf
        self._seen: dict[str, tuple[int, int, float]] = {}  # key -> (window, count, when) seen here

    def close(self) -> None:
        self._redis.close()

    def _redis_key(self, key: str, index: int) -> str:
        return f"couponry:throttle:{key}:{index}"

    def _window(self) -> tuple[int, float]:
        # wall clock, not monotonic: every process and host must agree on the window index
        now = time.time()
        index = int(now // self.window_seconds)
        return index, (index + 1) * self.window_seconds - now

    def _guarded(self, operation: Callable[[], Any]) -> Any:
        """Run `operation` against Redis; None (fail open) when Redis is down or just was."""
        if time.monotonic() < self._down_until:
            return None
        try:
            return operation()
        except redis.RedisError as exc:
            now = time.monotonic()
            self._down_until = now + self.RETRY_AFTER_ERROR
            if now - self._last_warning >= self.WARN_EVERY:
                self._last_warning = now
                log.warning("throttle: Redis unavailable, failed look-ups are not throttled: %s", exc)
            return None

    def _add(self, key: str, index: int, left: float, n: int) -> int | None:
        """INCRBY n on the window's counter (which lives a second past its window); the new count."""
        name = self._redis_key(key, index)
        expire = _seconds(left) + 1
        result = self._guarded(
            lambda: self._redis.pipeline().incrby(name, n).expire(name, expire, nx=True).execute()
        )
        if result is None:
            return None
        count = int(result[0])
        if len(self._seen) >= self.MAX_REMEMBERED:
            self._seen = {k: seen for k, seen in self._seen.items() if seen[0] >= index}
            if len(self._seen) >= self.MAX_REMEMBERED:
                self._seen.clear()
        self._seen[key] = (index, count, time.monotonic())
        return count

    def failures(self, key: str) -> int:
        index, _ = self._window()
        value = self._guarded(lambda: self._redis.get(self._redis_key(key, index)))
        return int(value or 0)

    def advise(self, key: str) -> Verdict:
        index, left = self._window()
        window, count, seen_at = self._seen.get(key, (index, 0, 0.0))
        if window != index or time.monotonic() - seen_at > self.ADVICE_SECONDS:
            return Verdict(delay=0.0)
        return verdict_for(count, left, self.slow_after, self.block_after)

    def reserve(self, key: str, attempts: int) -> Reservation:
        index, left = self._window()
        count = self._add(key, index, left, attempts)
        if count is None:
            return Reservation(key, index, 0)  # Redis is down: fail open
        if refuses(count - attempts, attempts, self.block_after):
            if attempts:
                self._add(key, index, left, -attempts)
            return Reservation(key, index, 0, retry_after=_seconds(left))
        return Reservation(key, index, attempts)

    def settle(self, reservation: Reservation, failures: int) -> None:
        delta = failures - reservation.attempts
        if not delta:
            return
        index, left = self._window()
        if index != reservation.window and delta < 0:
            return  # the reserved window is over: nothing left to give back
        self._add(reservation.key, index, left, delta)

    def record_failures(self, key: str, n: int = 1) -> None:
        """Count `n` failures that were not reserved beforehand."""
        self.settle(Reservation(key, -1, 0), n)


def make_throttle(settings: Any) -> Throttle:
    """RedisThrottle when settings.redis_url is set (several processes share counts), else in memory."""
    limits = (settings.throttle_slow_after, settings.throttle_block_after, settings.throttle_window_seconds)
    if settings.redis_url:
        return RedisThrottle(settings.redis_url, *limits)
    return MemoryThrottle(*limits)
