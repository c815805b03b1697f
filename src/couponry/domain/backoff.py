"""When to try a failed delivery again: exponential backoff, capped, spread by a per-message jitter."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Delay after failed attempt n (1-based): base * 2^(n-1), at most `cap`, plus up to `jitter` of it
    (a fraction fixed per message, so retries of many messages spread out yet stay reproducible).
    After `max_attempts` failed attempts the message is given up."""

    base: timedelta
    cap: timedelta
    max_attempts: int
    jitter: float = 0.1

    def delay(self, attempt: int, key: str) -> timedelta:
        raw = min(self.base * (2 ** max(attempt - 1, 0)), self.cap)
        spread = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=2).digest()) / 0xFFFF
        return raw * (1 + self.jitter * spread)

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


# Mail: 1 min, 2, 4 ... then hourly; a stopped SMTP server has about 20 hours (25 attempts) to come back.
MAIL = Backoff(base=timedelta(minutes=1), cap=timedelta(hours=1), max_attempts=25)
# Webhooks: 30 s, 1 min, 2 ... then every 6 h: about 2.7 days (20 attempts), close to Stripe's three.
WEBHOOK = Backoff(base=timedelta(seconds=30), cap=timedelta(hours=6), max_attempts=20)
