"""Writing to the points ledger from other use cases, in their transaction: earning on a completed order,
taking back on a refund, crediting a bonus (referrals, wheel prizes), and telling webhooks.

The event ingestion (services/customers) calls `on_order_completed` and `on_order_refunded` only for an
event it has not seen before (type + order id are unique), and an order's lot is unique by order id,
so a redelivered event changes nothing.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, select, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.ledger import (
    NewEntry,
    Written,
    append,
    earn_in_one_statement,
    ensure_account,
    lock_account,
)
from couponry.adapters.db.order_events import CompletedOrder, Earning
from couponry.adapters.db.subscriptions import subscribed_types
from couponry.adapters.db.tables import loyalty_program, points_lots
from couponry.domain.loyalty import (
    OrderLine,
    Program,
    expires_at,
    matures_at,
    points_for_order,
    points_taken_back,
    program_from_json,
    split_take_back,
)
from couponry.services.messaging import events

PROGRAM_ID = 1


def current_program(conn: Connection) -> Program | None:
    """The program as stored (None: none yet), remembered as what this process last read (`_seen`)."""
    stored = conn.execute(
        select(cast(loyalty_program.c.settings, String)).where(loyalty_program.c.id == PROGRAM_ID)
    ).scalar()
    program = None if stored is None else program_from_json(json.loads(stored))
    _seen[conn.engine] = (stored, program)
    return program


# The program settings each process last read, as their stored JSON text and parsed: what an order's
# points are computed from before the one statement of adapters/db/order_events, which earns only if the
# stored settings are still that text. "" (never stored: not JSON) until read.
_seen: weakref.WeakKeyDictionary[Engine, tuple[str | None, Program | None]] = weakref.WeakKeyDictionary()
_UNSEEN = ""


def earning_as_seen(engine: Engine, lines: Sequence[OrderLine], occurred_at: datetime) -> Earning:
    """The points of an order under the program this process last read (see `_seen`)."""
    settings, program = _seen.get(engine, (_UNSEEN, None))
    amount = sum(max(line.amount, 0) for line in lines)
    if program is None:
        return Earning(settings, 0, amount, None, None)
    mature = matures_at(program, occurred_at)
    return Earning(settings, points_for_order(program, lines), amount, mature, expires_at(program, mature))


def earned_as_seen(
    conn: Connection,
    customer_id: str,
    order_id: str,
    lines: Sequence[OrderLine],
    order: CompletedOrder,
    earning: Earning,
    occurred_at: datetime,
    now: datetime,
) -> None:
    """After the one statement: announce what it earned or, when the program was not the one this
    process had seen, earn with the program as stored (reading it remembers it)."""
    if order.program_seen:
        if order.entry_id is not None:
            entry = NewEntry("earned", earning.points, "order", order_id, bucket="pending")
            announce(conn, customer_id, [Written(order.entry_id, entry, order.available or 0)], now)
        return
    on_order_completed(conn, customer_id, order_id, lines, occurred_at, now)


def announce(conn: Connection, customer_id: str, written: Iterable[Written], now: datetime) -> None:
    """`points.changed` for each entry (nothing is written while no webhook subscribes)."""
    if "points.changed" not in subscribed_types(conn):
        return
    for w in written:
        events.points_changed(
            conn, customer_id, w.entry.points, w.entry.kind, w.available_after, now, str(w.id)
        )


def order_lines(event: Mapping[str, Any]) -> list[OrderLine]:
    """The lines of an order event, or one line of its whole `amount` (earning at the base rate)."""
    lines = event.get("lines")
    if lines:
        return [
            OrderLine(int(x["amount"]), x.get("product_id"), x.get("category"), x.get("brand")) for x in lines
        ]
    return [OrderLine(int(event.get("amount") or 0))]


def on_order_completed(
    conn: Connection,
    customer_id: str,
    order_id: str,
    lines: Sequence[OrderLine],
    occurred_at: datetime,
    now: datetime,
) -> int:
    """A member's completed order earns pending points (a lot maturing `pending_days` after the order);
    returns the points earned (0 for non-members, when there is no program, or for an order seen before)."""
    program = current_program(conn)
    if program is None:
        return 0
    points = points_for_order(program, lines)
    if points <= 0:
        return 0
    mature = matures_at(program, occurred_at)
    order_amount = sum(max(line.amount, 0) for line in lines)
    if conn.dialect.name == "postgresql":  # the hot path of every order: one round trip
        written = earn_in_one_statement(
            conn, customer_id, order_id, order_amount, points, mature, expires_at(program, mature), now
        )
        if written is None:
            return 0
        announce(conn, customer_id, [written], now)
        return points
    account = lock_account(conn, customer_id)
    if account is None or not account.member:
        return 0
    fresh = insert_ignoring_conflicts(
        conn,
        points_lots,
        {
            "customer_id": customer_id,
            "order_id": order_id,
            "order_amount": order_amount,
            "earned": points,
            "matures_at": mature,
            "expires_at": expires_at(program, mature),
            "created_at": now,
        },
    )
    if not fresh:  # this order earned already
        return 0
    entry = NewEntry("earned", points, "order", order_id, bucket="pending")
    announce(conn, customer_id, append(conn, customer_id, [entry], now, account.available), now)
    return points


def on_order_refunded(
    conn: Connection, customer_id: str, order_id: str, refunded: int | None, now: datetime
) -> int:
    """Take back the points of the refunded share of the order (`refunded`: minor units; None: all of
    it): the order's pending points first, then available ones, which may leave a debt (a negative
    available balance that later earnings pay off). Points of a lot that has expired are not taken
    again. Returns the points taken back."""
    lot = conn.execute(select(points_lots).where(points_lots.c.order_id == order_id)).first()
    if lot is None:
        return 0
    account = lock_account(conn, lot.customer_id)
    lot = conn.execute(select(points_lots).where(points_lots.c.id == lot.id)).one()  # as of the lock
    amount = lot.order_amount if refunded is None else refunded
    take_back = points_taken_back(lot.earned, lot.order_amount, amount)
    pending_rest = 0 if lot.matured else lot.earned - lot.reversed
    from_pending, from_available = split_take_back(take_back, pending_rest)
    if lot.expires_at <= now:
        from_available = 0
    entries = []
    if from_pending:
        conn.execute(
            update(points_lots)
            .where(points_lots.c.id == lot.id)
            .values(reversed=points_lots.c.reversed + from_pending)
        )
        entries.append(NewEntry("reversed", -from_pending, "order", order_id, bucket="pending"))
    if from_available:
        entries.append(NewEntry("reversed", -from_available, "order", order_id, expires_at=lot.expires_at))
    announce(conn, lot.customer_id, append(conn, lot.customer_id, entries, now, account.available), now)
    return from_pending + from_available


def credit_bonus(
    conn: Connection,
    customer_id: str,
    points: int,
    source_type: str,
    source_id: str,
    now: datetime,
    reason: str | None = None,
) -> Written | None:
    """Credit available points (a referral, a wheel prize); they expire `expiry_days` from now. The
    customer gets an account if they had none (members or not: joining later keeps them)."""
    if points <= 0:
        return None
    program = current_program(conn) or Program()  # points given before the program is set expire by default
    ensure_account(conn, customer_id, now)
    account = lock_account(conn, customer_id)
    entry = NewEntry(
        "bonus", points, source_type, source_id, expires_at=expires_at(program, now), reason=reason
    )
    written = append(conn, customer_id, [entry], now, account.available)
    announce(conn, customer_id, written, now)
    return written[0]
