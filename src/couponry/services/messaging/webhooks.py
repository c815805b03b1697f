"""Webhook endpoints: register (with a fresh signing secret), list, delete. Admin keys only."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from couponry.adapters.db import subscriptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import webhook_deliveries, webhooks
from couponry.domain.errors import InvalidInput, NotFound
from couponry.services.access.actors import Actor, Permission
from couponry.services.ids import new_id

EVENTS = ("coupon.issued", "coupon.claimed", "coupon.redeemed", "redemption.rolled_back", "points.changed")


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an absolute http:// or https:// URL", code="invalid_request")


def _body(row: Any) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "events": row.events, "created_at": row.created_at}


def create_webhook(db: Database, actor: Actor, url: str, events: list[str], now: datetime) -> dict[str, Any]:
    actor.require(Permission.MANAGE_WEBHOOKS)
    check_url(url)
    for i, event in enumerate(events):
        if event not in EVENTS:
            raise InvalidInput(
                f"events[{i}]", f"unknown event {event!r}; one of {', '.join(EVENTS)}", code="invalid_request"
            )
    if not events:
        raise InvalidInput("events", "name at least one event", code="invalid_request")
    webhook_id, secret = new_id(), "whsec_" + secrets.token_urlsafe(32)
    with db.write() as conn:
        conn.execute(
            insert(webhooks).values(
                id=webhook_id, url=url, events=sorted(set(events)), secret=secret, created_at=now
            )
        )
        row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).one()
    subscriptions.forget()
    return {**_body(row), "secret": secret}


def list_webhooks(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require(Permission.MANAGE_WEBHOOKS)
    with db.read() as conn:
        rows = conn.execute(
            select(webhooks)
            .where(webhooks.c.deleted_at.is_(None))
            .order_by(webhooks.c.created_at, webhooks.c.id)
        ).all()
    return [_body(r) for r in rows]


def delete_webhook(db: Database, actor: Actor, webhook_id: str, now: datetime) -> None:
    """Stop delivering to an endpoint; what was still waiting for it is cancelled."""
    actor.require(Permission.MANAGE_WEBHOOKS)
    with db.write() as conn:
        gone = conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id, webhooks.c.deleted_at.is_(None))
            .values(deleted_at=now)
            .returning(webhooks.c.id)
        ).first()
        if gone is None:
            raise NotFound(f"no webhook {webhook_id}")
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.status == "pending")
            .values(status="cancelled")
        )
    subscriptions.forget()


def list_deliveries(db: Database, actor: Actor, webhook_id: str, limit: int) -> list[dict[str, Any]]:
    """The newest deliveries to an endpoint, with attempts and the last error (to see what gave up)."""
    actor.require(Permission.MANAGE_WEBHOOKS)
    with db.read() as conn:
        if conn.execute(select(webhooks.c.id).where(webhooks.c.id == webhook_id)).first() is None:
            raise NotFound(f"no webhook {webhook_id}")
        rows = conn.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id)
            .limit(limit)
        ).all()
    return [
        {
            "id": r.id,
            "event_id": r.event_id,
            "status": r.status,
            "attempts": r.attempts,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "next_attempt_at": r.available_at if r.status == "pending" else None,
            "created_at": r.created_at,
            "delivered_at": r.delivered_at,
        }
        for r in rows
    ]
