"""Writing to the transactional outbox, inside the caller's transaction.

Whatever causes a message (a coupon issued, a redemption, a points change) calls these with its own
connection, so the message exists exactly when its cause committed. Delivery (webhooks, SMTP), retries
and backoff happen later, in services/messaging.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import outbox


def _enqueue(
    conn: Connection,
    kind: str,
    type_: str,
    payload: dict[str, Any],
    now: datetime,
    customer_id: str | None,
    dedupe_key: str | None,
) -> bool:
    row = {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "type": type_,
        "customer_id": customer_id,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "available_at": now,
        "created_at": now,
    }
    return insert_ignoring_conflicts(conn, outbox, row) == 1


def enqueue_event(
    conn: Connection, type_: str, data: dict[str, Any], now: datetime, dedupe_key: str | None = None
) -> bool:
    """An event for the webhooks (`coupon.issued`, `coupon.redeemed`, ...); False if `dedupe_key` was
    already queued."""
    return _enqueue(conn, "event", type_, data, now, None, dedupe_key)


def enqueue_mail(
    conn: Connection,
    customer_id: str,
    template: str,
    context: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    """A mail from `template` to a customer (consent is checked when it is sent); False if
    `dedupe_key` was already queued."""
    return _enqueue(conn, "mail", template, context, now, customer_id, dedupe_key)
