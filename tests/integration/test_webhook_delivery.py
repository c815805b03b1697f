"""Webhook delivery with the clock in the test's hands: backoff, giving up, and the signature format."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.outbox import enqueue_event
from couponry.adapters.db.tables import webhook_deliveries
from couponry.adapters.webhooks import signature
from couponry.domain.backoff import WEBHOOK
from couponry.services.access.actors import SYSTEM
from couponry.services.messaging import webhooks
from couponry.services.messaging.webhook_delivery import deliver_webhooks
from couponry.settings import Settings
from tests.e2e.messaging_helpers import WebhookReceiver

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_raw_body() -> None:
    body = b'{"id":"e1"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("whsec_x", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_retries_back_off_and_give_up_after_the_last_attempt_with_the_error_kept(db: Database) -> None:
    with WebhookReceiver(script=[503] * 100) as receiver:
        receiver.secret = webhooks.create_webhook(db, SYSTEM, receiver.url, ["points.changed"], T0)["secret"]
        with db.write() as conn:
            assert enqueue_event(conn, "points.changed", {"customer_id": "c1", "points": 5}, T0)
        now, tries = T0, []
        for _ in range(WEBHOOK.max_attempts + 3):
            report = deliver_webhooks(db, Settings(), now)
            tries.append(report.retried + report.failed)
            with db.read() as conn:
                row = conn.execute(select(webhook_deliveries)).one()
            if row.status == "failed":
                break
            assert row.available_at - now >= WEBHOOK.delay(row.attempts, row.id) - timedelta(seconds=1)
            assert deliver_webhooks(db, Settings(), now + timedelta(seconds=1)).retried == 0  # not yet due
            now = row.available_at
    assert (row.status, row.attempts, row.last_status) == ("failed", WEBHOOK.max_attempts, 503)
    assert row.last_error.startswith(f"gave up after {WEBHOOK.max_attempts} attempts: HTTP 503")
    assert len(receiver.posts) == WEBHOOK.max_attempts
    assert deliver_webhooks(db, Settings(), now + timedelta(days=30)).retried == 0


def test_an_endpoint_registered_after_an_event_does_not_receive_it(db: Database) -> None:
    with WebhookReceiver() as early, WebhookReceiver() as late:
        early.secret = webhooks.create_webhook(db, SYSTEM, early.url, ["coupon.claimed"], T0)["secret"]
        with db.write() as conn:
            enqueue_event(conn, "coupon.claimed", {"code": "X"}, T0 + timedelta(seconds=1))
        late.secret = webhooks.create_webhook(
            db, SYSTEM, late.url, ["coupon.claimed"], T0 + timedelta(seconds=2)
        )["secret"]
        deliver_webhooks(db, Settings(), T0 + timedelta(seconds=3))
    assert [e["data"] for e in early.accepted] == [{"code": "X"}]
    assert late.posts == []
