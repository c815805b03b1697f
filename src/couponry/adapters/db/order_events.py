"""PostgreSQL: a completed order's common writes in one statement.

An `order.completed` event touched the database in ten round trips: BEGIN, the event row, the customer
row ensured, its order counters, the referral program read, the loyalty program read, the earning, the
live triggers read, COMMIT. Measured with 4 server processes, the Python side of those statements was
most of the event's CPU. Here the event row, the customer's counters (an upsert that also creates a
customer first seen in an order) and the earning are one statement; it also answers what the rarer
follow-ups need (the referral program's rule, the customer's inviter and order count, whether a live
`order.completed` trigger exists), so the service runs them, in the same transaction, only when they
apply.

The earning needs the points, computed in Python from the program's settings. The caller computes them
from the settings it last saw and passes that settings text: the earning writes only if the stored
settings are still exactly that text, and the answer says whether they were. When they were not (the
first event in a process, or after the program changed), nothing was earned and the caller earns with
the current program in a second statement, in the same transaction. So a cached program is never used
to earn after it changed, whichever process changed it.

Alone (`alone=True`), the statement runs on the event loop's connection (adapters.db.loop_reads, in
autocommit or committed with other orders' statements, `fetch_together`), with no transaction of its
own to run follow-ups in: it then writes only if nothing follows (the
program is the one the caller saw, no live `order.completed` trigger, no first-order referral reward
due to this customer) and otherwise writes nothing at all, and the service runs the event in a
transaction as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from couponry.adapters.db.ledger import EARN_AFTER_ACCOUNT_LOCKED

COMPLETED_ORDER = (
    """
    WITH program AS (
        SELECT CAST(settings AS text) AS settings FROM loyalty_program WHERE id = 1
    ), nothing_follows AS (
        SELECT (SELECT settings FROM program) IS NOT DISTINCT FROM CAST(:settings AS text)
           AND NOT EXISTS (SELECT 1 FROM triggers WHERE event = 'order.completed' AND deleted_at IS NULL)
           AND NOT EXISTS (
               SELECT 1 FROM referral_program r, customers c
               WHERE r.id = 1 AND r.reward_on = 'first_order'
                 AND c.id = :c AND c.referrer_id IS NOT NULL AND c.order_count = 0
           ) AS yes
    ), ev AS (
        INSERT INTO events (type, ref, customer_id, payload, received_at)
        SELECT 'order.completed', :o, :c, CAST(:payload AS json), :now
        WHERE NOT CAST(:alone AS boolean) OR (SELECT yes FROM nothing_follows)
        ON CONFLICT (type, ref) DO NOTHING
        RETURNING ref
    ), cu AS (
        INSERT INTO customers (id, tags, attributes, marketing_consent, order_count, total_spent,
                               last_order_at, referral_code, created_at, updated_at)
        SELECT :c, CAST('[]' AS json), CAST('{}' AS json), false, 1, :spent, :occurred, :referral_code,
               :now, :now
        FROM ev
        ON CONFLICT (id) DO UPDATE SET
            order_count = customers.order_count + 1,
            total_spent = customers.total_spent + EXCLUDED.total_spent,
            last_order_at = CASE
                WHEN customers.last_order_at IS NULL OR customers.last_order_at < EXCLUDED.last_order_at
                THEN EXCLUDED.last_order_at ELSE customers.last_order_at END,
            updated_at = EXCLUDED.updated_at
        RETURNING referrer_id, order_count
    ), acc AS (
        SELECT customer_id FROM loyalty_accounts
        WHERE customer_id = :c AND member AND CAST(:p AS bigint) > 0 AND EXISTS (SELECT 1 FROM ev)
          AND (SELECT settings FROM program) IS NOT DISTINCT FROM CAST(:settings AS text)
        FOR UPDATE
    ),"""
    + EARN_AFTER_ACCOUNT_LOCKED
    + """
    SELECT
        EXISTS (SELECT 1 FROM ev) AS fresh,
        (SELECT referrer_id FROM cu) AS referrer_id,
        (SELECT order_count FROM cu) AS order_count,
        (SELECT settings FROM program) IS NOT DISTINCT FROM CAST(:settings AS text) AS program_seen,
        (SELECT id FROM ins) AS entry_id,
        (SELECT available FROM upd) AS available,
        (SELECT reward_on FROM referral_program WHERE id = 1) AS referral_reward_on,
        EXISTS (
            SELECT 1 FROM triggers WHERE event = 'order.completed' AND deleted_at IS NULL
        ) AS live_triggers,
        (SELECT yes FROM nothing_follows) AS nothing_follows
    """
)
_COMPLETED_ORDER = text(COMPLETED_ORDER)


@dataclass(frozen=True, slots=True)
class Earning:
    """What the caller computed from the program settings it last saw (`settings`: their JSON text,
    None for no program)."""

    settings: str | None
    points: int
    lines_amount: int
    matures_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CompletedOrder:
    fresh: bool  # False: the event was seen before (or, alone, something follows): nothing was written
    referrer_id: str | None
    order_count: int | None
    program_seen: bool  # the stored program settings were the caller's (else nothing was earned)
    entry_id: int | None  # the `earned` ledger entry, when points were earned
    available: int | None  # the member's available balance after it
    referral_reward_on: str | None
    live_triggers: bool
    nothing_follows: bool  # alone: False means nothing was written, run it in a transaction

    @classmethod
    def of(cls, row: Sequence[Any]) -> CompletedOrder:
        return cls(*row)


def completed_order_params(
    customer_id: str,
    order_id: str,
    payload: str,
    amount: int,
    occurred_at: datetime,
    referral_code: str,
    earning: Earning,
    now: datetime,
    *,
    alone: bool,
) -> dict[str, Any]:
    """The parameters of COMPLETED_ORDER (`payload`: the event's JSON; `amount`: what was spent)."""
    return {
        "o": order_id,
        "c": customer_id,
        "payload": payload,
        "now": now,
        "spent": amount,
        "occurred": occurred_at,
        "referral_code": referral_code,
        "settings": earning.settings,
        "p": earning.points,
        "amount": earning.lines_amount,  # the lot's order amount: what its lines add up to
        "matures": earning.matures_at or now,
        "expires": earning.expires_at or now,
        "alone": alone,
    }


def record_completed_order(conn: Connection, params: dict[str, Any]) -> CompletedOrder:
    """In the connection's transaction: the event row (unique by type and order), the customer's
    counters and, for a member, the order's lot, its `earned` entry and the cached balances (the
    account row locked first, as every writer does): all or, for an event seen before, nothing."""
    return CompletedOrder.of(tuple(conn.execute(_COMPLETED_ORDER, params).one()))
