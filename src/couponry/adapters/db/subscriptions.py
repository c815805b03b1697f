"""Which event types some webhook subscribes to, cached per process for a second or two.

Checked before an event is written to the outbox, so the redemption path pays nothing (no INSERT, no
query) while nobody subscribes to `coupon.redeemed`. The cache is refreshed with one small query at most
every `TTL` seconds per database, and forgotten at once in the process that creates or deletes a
webhook; another server process sees a new subscription within `TTL` seconds.
"""

from __future__ import annotations

import time
import weakref

from sqlalchemy import Connection, Engine, select

from couponry.adapters.db.tables import webhooks

TTL = 2.0
_cache: weakref.WeakKeyDictionary[Engine, tuple[float, frozenset[str]]] = weakref.WeakKeyDictionary()


def subscribed_types(conn: Connection) -> frozenset[str]:
    key = conn.engine
    hit = _cache.get(key)
    if hit is not None and time.monotonic() < hit[0]:
        return hit[1]
    lists = conn.execute(select(webhooks.c.events).where(webhooks.c.deleted_at.is_(None))).scalars()
    types = frozenset(t for events in lists for t in events)
    _cache[key] = (time.monotonic() + TTL, types)
    return types


def cached_types(engine: Engine) -> frozenset[str] | None:
    """What `subscribed_types` would answer without a query, or None when it would need one."""
    hit = _cache.get(engine)
    return hit[1] if hit is not None and time.monotonic() < hit[0] else None


def forget() -> None:
    """Drop the cache (after a webhook is created or deleted in this process)."""
    _cache.clear()
