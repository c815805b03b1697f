"""Idempotency keys: the same key and body return the first answer; another body is a conflict.

The key row is inserted in the same transaction as the work it guards. A concurrent request with the
same key blocks on the unique index until the first commits, then finds the stored answer.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import idempotency_keys
from couponry.domain.errors import IdempotencyConflict, InvalidInput


class Replay(Exception):
    """The key was used before with this body: answer with what was stored."""

    def __init__(self, status: int, response: dict[str, Any]) -> None:
        super().__init__("replay")
        self.status = status
        self.response = response


def request_hash(endpoint: str, payload: Any) -> str:
    canonical = json.dumps([endpoint, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidInput("Idempotency-Key", "must be 1 to 200 characters")
    return key


def find(conn: Connection, api_key_id: str, key: str, req_hash: str) -> None:
    """Raise Replay or IdempotencyConflict when the key was used already; return when it is new."""
    row = conn.execute(
        select(
            idempotency_keys.c.request_hash, idempotency_keys.c.status_code, idempotency_keys.c.response
        ).where(idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key)
    ).first()
    if row is None:
        return
    if row.request_hash != req_hash:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    raise Replay(row.status_code, row.response)


def record(
    conn: Connection,
    api_key_id: str,
    key: str,
    endpoint: str,
    req_hash: str,
    status: int,
    response: dict[str, Any],
    now: datetime,
) -> None:
    """Store the answer; if another request stored one first, raise what it stored instead."""
    inserted = insert_ignoring_conflicts(
        conn,
        idempotency_keys,
        {
            "api_key_id": api_key_id,
            "key": key,
            "endpoint": endpoint,
            "request_hash": req_hash,
            "status_code": status,
            "response": response,
            "created_at": now,
        },
    )
    if not inserted:
        find(conn, api_key_id, key, req_hash)
        raise IdempotencyConflict("this Idempotency-Key is in use")  # pragma: no cover - find raises


def purge_expired(db: Database, before: datetime, batch: int = 1000) -> int:
    """Forget keys stored before `before` (the retention, 24 hours by default, as Stripe's), in batches
    so no transaction grows large. A retry after that is a new request; the redemption it would repeat
    is still refused by the order's unique (code, order) pair."""
    purged = 0
    while True:
        with db.write() as conn:
            old = conn.execute(
                select(idempotency_keys.c.api_key_id, idempotency_keys.c.key)
                .where(idempotency_keys.c.created_at < before)
                .limit(batch)
            ).all()
            if old:
                conn.execute(
                    delete(idempotency_keys).where(
                        tuple_(idempotency_keys.c.api_key_id, idempotency_keys.c.key).in_(
                            [tuple(r) for r in old]
                        )
                    )
                )
        purged += len(old)
        if len(old) < batch:
            return purged
