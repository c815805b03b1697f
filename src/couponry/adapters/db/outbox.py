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
from couponry.adapters.db.subscriptions import subscribed_types
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
    """An event for the webhooks (`coupon.issued`, `coupon.redeemed`, ...); False if it was not queued:
    no webhook subscribes to `type_` (checked against a cache of a second or two), or `dedupe_key` was
    already queued."""
    if type_ not in subscribed_types(conn):
        return False
    return _enqueue(conn, "event", type_, data, now, None, dedupe_key)


def enqueue_mail(
    conn: Connection,
    customer_id: str,
    template: str,
    context: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    """A mail from `template` (coupon_issued, expiring_soon, birthday, points_statement) to a customer
    (consent is checked when it is sent); False if `dedupe_key` was already queued.

    `context` is JSON; a `code` in it is looked up when the mail is sent (campaign name, discount, end
    of validity), so callers need not copy those. docs/messaging.md lists what each template reads."""
    return _enqueue(conn, "mail", template, context, now, customer_id, dedupe_key)


def enqueue_mails(
    conn: Connection, mails: list[tuple[str, str, dict[str, Any], str | None]], now: datetime
) -> int:
    """Many mails at once, each (customer_id, template, context, dedupe_key); returns how many were
    queued (those whose dedupe_key was already queued are not)."""
    if not mails:
        return 0
    rows = [
        {
            "id": uuid.uuid4().hex,
            "kind": "mail",
            "type": template,
            "customer_id": customer_id,
            "payload": context,
            "dedupe_key": dedupe_key,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for customer_id, template, context, dedupe_key in mails
    ]
    return insert_ignoring_conflicts(conn, outbox, rows)


def enqueue_events(conn: Connection, type_: str, datas: list[dict[str, Any]], now: datetime) -> int:
    """Many events of one type at once (one statement); returns how many were queued (0 while no webhook
    subscribes to `type_`)."""
    if not datas or type_ not in subscribed_types(conn):
        return 0
    rows = [
        {
            "id": uuid.uuid4().hex,
            "kind": "event",
            "type": type_,
            "customer_id": None,
            "payload": data,
            "dedupe_key": None,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for data in datas
    ]
    return insert_ignoring_conflicts(conn, outbox, rows)
