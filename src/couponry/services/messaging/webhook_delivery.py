"""Delivering webhook events: fan each outbox event out to its endpoints, then POST with retries.

1. Fan-out (one transaction, no network): each pending event becomes one `webhook_deliveries` row per
   endpoint that subscribed to its type before it happened; the unique (event, endpoint) pair makes a
   second fan-out of the same event harmless. The event row becomes `dispatched`.
2. Delivery: leased like mails (outbox_claims), POSTed signed, settled: `delivered` on a 2xx, else
   pending again after the WEBHOOK backoff, `failed` (with the last error) after its last attempt.
   The body is the same bytes on every attempt (the event's id, type, created_at and data), so a
   receiver dedupes retries on `id`.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from couponry.adapters import webhooks as http
from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import outbox, webhook_deliveries, webhooks
from couponry.domain.backoff import WEBHOOK
from couponry.services.ids import new_id
from couponry.services.messaging.outbox_claims import claim_due, retry_values, settle
from couponry.settings import Settings

FAN_OUT_BATCH = 500
BATCH = 50


@dataclass
class WebhookReport:
    dispatched: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def fan_out(db: Database, now: datetime) -> int:
    """Turn due events into one delivery per subscribed endpoint; returns how many events were done."""
    done = 0
    while True:
        with db.write() as conn:
            events = conn.execute(
                select(outbox.c.id, outbox.c.type, outbox.c.created_at)
                .where(outbox.c.kind == "event", outbox.c.status == "pending", outbox.c.available_at <= now)
                .order_by(outbox.c.available_at)
                .limit(FAN_OUT_BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if not events:
                return done
            endpoints = conn.execute(
                select(webhooks.c.id, webhooks.c.events, webhooks.c.created_at).where(
                    webhooks.c.deleted_at.is_(None)
                )
            ).all()
            rows = [
                {
                    "id": new_id(),
                    "event_id": e.id,
                    "webhook_id": w.id,
                    "status": "pending",
                    "attempts": 0,
                    "available_at": now,
                    "created_at": now,
                }
                for e in events
                for w in endpoints
                if e.type in w.events and w.created_at <= e.created_at
            ]
            if rows:
                insert_ignoring_conflicts(conn, webhook_deliveries, rows)
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([e.id for e in events]))
                .values(status="dispatched", delivered_at=now)
            )
            done += len(events)


def event_body(event: Any) -> bytes:
    """The delivery body: the same bytes on every attempt and for every endpoint."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type,
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": event.payload,
        },
        separators=(",", ":"),
        default=str,
    ).encode()


def deliver_webhooks(
    db: Database, settings: Settings, now: datetime, budget_seconds: float = 20.0
) -> WebhookReport:
    """Fan out due events, then POST the deliveries due at `now` for at most about `budget_seconds`."""
    report = WebhookReport(dispatched=fan_out(db, now))
    deadline = time.monotonic() + budget_seconds
    # made once a delivery is due, not on every run of the job: an HTTP client's TLS context cost ~20 ms
    # of CPU, holding the interpreter lock, every 5 s in every server process while nothing was due
    with ExitStack() as closing:
        client = None
        while time.monotonic() < deadline:
            leased = claim_due(db, webhook_deliveries, now, BATCH)
            if not leased:
                break
            if client is None:
                client = closing.enter_context(http.client(settings.webhook_timeout_seconds))
            with db.read() as conn:
                events = {
                    e.id: e
                    for e in conn.execute(select(outbox).where(outbox.c.id.in_({d.event_id for d in leased})))
                }
                endpoints = {
                    w.id: w
                    for w in conn.execute(
                        select(webhooks).where(webhooks.c.id.in_({d.webhook_id for d in leased}))
                    )
                }
            outcomes: list[tuple[Any, dict[str, Any]]] = []
            for delivery in leased:
                endpoint, event = endpoints.get(delivery.webhook_id), events.get(delivery.event_id)
                if endpoint is None or endpoint.deleted_at is not None or event is None:
                    outcomes.append(
                        (delivery, {"status": "cancelled", "last_error": "the endpoint was deleted"})
                    )
                    continue
                result = http.post(client, endpoint.url, endpoint.secret, event_body(event), event.id)
                if result.ok:
                    values = {
                        "status": "delivered",
                        "delivered_at": now,
                        "last_status": result.status,
                        "last_error": None,
                    }
                    report.delivered += 1
                else:
                    values = retry_values(
                        WEBHOOK, delivery, now, result.error or "", last_status=result.status
                    )
                    if values["status"] == "failed":
                        report.failed += 1
                    else:
                        report.retried += 1
                outcomes.append((delivery, values))
            settle(db, webhook_deliveries, outcomes)
    return report
