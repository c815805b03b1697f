"""Customers and the order events that keep first-order and per-customer rules true."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import customers, events
from couponry.domain.errors import InvalidInput, NotFound
from couponry.services.access.actors import Actor, Permission

PROFILE_FIELDS = ("email", "name", "birthday", "tags", "attributes", "marketing_consent")
EVENT_TYPES = ("order.completed", "order.refunded", "customer.created")


def customer_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        **{f: getattr(row, f) for f in PROFILE_FIELDS},
        "order_count": row.order_count,
        "total_spent": row.total_spent,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _blank(customer_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": customer_id,
        "tags": [],
        "attributes": {},
        "marketing_consent": False,
        "created_at": now,
        "updated_at": now,
    }


def _ensure(conn: Connection, customer_id: str, now: datetime) -> None:
    insert_ignoring_conflicts(conn, customers, _blank(customer_id, now))


def put_customer(
    db: Database, actor: Actor, customer_id: str, profile: dict[str, Any], now: datetime
) -> tuple[bool, dict[str, Any]]:
    """Create or replace the profile (order counters are left alone); returns (created, body)."""
    actor.require(Permission.MANAGE_CUSTOMERS)
    values = {f: profile.get(f) for f in PROFILE_FIELDS}
    values["tags"] = values["tags"] or []
    values["attributes"] = values["attributes"] or {}
    values["marketing_consent"] = bool(values["marketing_consent"])
    module = postgresql if db.is_postgres else sqlite
    with db.write() as conn:
        existed = (
            conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is not None
        )
        stmt = module.insert(customers).values(**{**_blank(customer_id, now), **values})
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={**values, "updated_at": now}))
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).one()
        return not existed, customer_body(row)


def get_customer(db: Database, actor: Actor, customer_id: str) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CUSTOMERS)
    with db.read() as conn:
        row = conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    return customer_body(row)


def record_event(db: Database, actor: Actor, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Apply an event once: (type, order or customer id) is unique, so a redelivery changes nothing."""
    actor.require(Permission.SEND_EVENTS)
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(EVENT_TYPES)}")
    customer_id = event.get("customer_id")
    if not customer_id:
        raise InvalidInput("customer_id", "is required")
    ref = customer_id if kind == "customer.created" else event.get("order_id")
    if not ref:
        raise InvalidInput("order_id", f"is required for {kind}")
    amount = event.get("amount") or 0
    if kind != "customer.created" and (not isinstance(amount, int) or isinstance(amount, bool) or amount < 0):
        raise InvalidInput("amount", "must be a non-negative integer in minor units")
    with db.write() as conn:
        fresh = insert_ignoring_conflicts(
            conn,
            events,
            {"type": kind, "ref": ref, "customer_id": customer_id, "payload": event, "received_at": now},
        )
        if fresh:
            _ensure(conn, customer_id, now)
            if kind == "order.completed":
                _count_order(conn, customer_id, +1, amount, now)
            elif kind == "order.refunded":
                _count_order(conn, customer_id, -1, -amount, now)
    return {"accepted": True, "duplicate": not fresh, "type": kind, "ref": ref}


def _count_order(conn: Connection, customer_id: str, orders: int, spent: int, now: datetime) -> None:
    conn.execute(
        update(customers)
        .where(customers.c.id == customer_id)
        .values(
            order_count=func.max(customers.c.order_count + orders, 0)
            if conn.dialect.name == "sqlite"
            else func.greatest(customers.c.order_count + orders, 0),
            total_spent=customers.c.total_spent + spent,
            updated_at=now,
        )
    )
