"""The points ledger in SQL: appending entries together with the cached balances, locking an account,
spending with a conditional UPDATE, and the sums the balances must equal.

Every writer takes the account row first (`lock_account`, or the conditional UPDATE of `spend`) and
only then touches lots or prize rows, so two transactions on one customer never deadlock and never
both decide on the same balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select, text, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import loyalty_accounts, points_ledger
from couponry.domain.loyalty import Balances, Lots, changes


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: str
    points: int
    source_type: str
    source_id: str
    bucket: str = "available"
    expires_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """An entry as appended: its id, and the available balance right after it."""

    id: int
    entry: NewEntry
    available_after: int


def ensure_account(conn: Connection, customer_id: str, now: datetime) -> None:
    """An account row (not a member) for a customer credited before joining, e.g. by a referral."""
    insert_ignoring_conflicts(
        conn, loyalty_accounts, {"customer_id": customer_id, "member": False, "updated_at": now}
    )


def lock_account(conn: Connection, customer_id: str) -> Any:
    """The account row, locked until the transaction ends (PostgreSQL; SQLite serializes writers)."""
    return conn.execute(
        select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer_id).with_for_update()
    ).first()


def append(
    conn: Connection, customer_id: str, entries: Sequence[NewEntry], now: datetime, available_before: int
) -> list[Written]:
    """Append entries and move the cached balances by their sum, in the caller's transaction (which
    holds the account row)."""
    if not entries:
        return []
    rows = []
    total = Balances()
    for e in entries:
        change = changes(e.kind, e.points, e.bucket)
        total = total + change
        rows.append(
            {
                "customer_id": customer_id,
                "kind": e.kind,
                "bucket": e.bucket,
                "points": e.points,
                "pending_change": change.pending,
                "available_change": change.available,
                "lifetime_change": change.lifetime,
                "source_type": e.source_type,
                "source_id": e.source_id,
                "reason": e.reason,
                "expires_at": e.expires_at,
                "created_at": now,
            }
        )
    ids = [
        conn.execute(points_ledger.insert().values(**row).returning(points_ledger.c.id)).scalar_one()
        for row in rows
    ]
    conn.execute(
        update(loyalty_accounts)
        .where(loyalty_accounts.c.customer_id == customer_id)
        .values(
            pending=loyalty_accounts.c.pending + total.pending,
            available=loyalty_accounts.c.available + total.available,
            lifetime=loyalty_accounts.c.lifetime + total.lifetime,
            updated_at=now,
        )
    )
    written, available = [], available_before
    for entry_id, e in zip(ids, entries, strict=True):
        available += changes(e.kind, e.points, e.bucket).available
        written.append(Written(entry_id, e, available))
    return written


# PostgreSQL: earning as common table expressions that follow `acc` (the member's account row, locked):
# the order's lot (unique by order), its `earned` entry, the cached balances. Parameters: :c customer,
# :o order, :amount the order's amount, :p points, :matures, :expires, :now.
EARN_AFTER_ACCOUNT_LOCKED = """
    lot AS (
        INSERT INTO points_lots (customer_id, order_id, order_amount, earned, reversed, matured, matures_at,
                                 expires_at, created_at)
        SELECT :c, :o, :amount, :p, 0, false, :matures, :expires, :now FROM acc
        ON CONFLICT (order_id) DO NOTHING
        RETURNING customer_id
    ), ins AS (
        INSERT INTO points_ledger (customer_id, kind, bucket, points, pending_change, available_change,
                                   lifetime_change, source_type, source_id, created_at)
        SELECT :c, 'earned', 'pending', :p, :p, 0, :p, 'order', :o, :now FROM lot
        RETURNING id
    ), upd AS (
        UPDATE loyalty_accounts SET pending = pending + :p, lifetime = lifetime + :p, updated_at = :now
        WHERE customer_id = :c AND EXISTS (SELECT 1 FROM ins)
        RETURNING available
    )
"""

_EARN_POSTGRES = text(
    """
    WITH acc AS (
        SELECT customer_id FROM loyalty_accounts WHERE customer_id = :c AND member FOR UPDATE
    ),"""
    + EARN_AFTER_ACCOUNT_LOCKED
    + "SELECT ins.id, upd.available FROM ins, upd"
)


def earn_in_one_statement(
    conn: Connection,
    customer_id: str,
    order_id: str,
    order_amount: int,
    points: int,
    matures_at: datetime,
    expires_at: datetime,
    now: datetime,
) -> Written | None:
    """PostgreSQL: a member's order lot, its `earned` entry and the balances in one statement (the
    account row locked first, as every writer does); None for a non-member or an order seen before."""
    row = conn.execute(
        _EARN_POSTGRES,
        {
            "c": customer_id,
            "o": order_id,
            "amount": order_amount,
            "p": points,
            "matures": matures_at,
            "expires": expires_at,
            "now": now,
        },  # fmt: skip
    ).first()
    if row is None:
        return None
    return Written(row.id, NewEntry("earned", points, "order", order_id, bucket="pending"), row.available)


def spend(conn: Connection, customer_id: str, points: int, now: datetime) -> int | None:
    """Take `points` from a member's available balance if it has them: the new balance, or None (not a
    member, or too few points). The conditional UPDATE is what keeps concurrent spends from overdrawing."""
    return conn.execute(
        update(loyalty_accounts)
        .where(
            loyalty_accounts.c.customer_id == customer_id,
            loyalty_accounts.c.member.is_(True),
            loyalty_accounts.c.available >= points,
        )
        .values(available=loyalty_accounts.c.available - points, updated_at=now)
        .returning(loyalty_accounts.c.available)
    ).scalar()


def record_spent(
    conn: Connection, customer_id: str, entry: NewEntry, now: datetime, available_after: int
) -> Written:
    """The ledger entry of a spend whose balance `spend` already moved."""
    change = changes(entry.kind, entry.points, entry.bucket)
    entry_id = conn.execute(
        points_ledger.insert()
        .values(
            customer_id=customer_id,
            kind=entry.kind,
            bucket=entry.bucket,
            points=entry.points,
            pending_change=change.pending,
            available_change=change.available,
            lifetime_change=change.lifetime,
            source_type=entry.source_type,
            source_id=entry.source_id,
            reason=entry.reason,
            expires_at=entry.expires_at,
            created_at=now,
        )
        .returning(points_ledger.c.id)
    ).scalar_one()
    return Written(entry_id, entry, available_after)


def ledger_sums(conn: Connection, customer_id: str) -> Balances:
    row = conn.execute(
        select(
            func.coalesce(func.sum(points_ledger.c.pending_change), 0),
            func.coalesce(func.sum(points_ledger.c.available_change), 0),
            func.coalesce(func.sum(points_ledger.c.lifetime_change), 0),
        ).where(points_ledger.c.customer_id == customer_id)
    ).one()
    return Balances(int(row[0]), int(row[1]), int(row[2]))


def lots(conn: Connection, customer_id: str) -> Lots:
    """The customer's credits to available by expiry date, and the total debited (domain.loyalty.Lots)."""
    ledger = points_ledger.c
    credit = (
        (ledger.kind.in_(("matured", "bonus")))
        | ((ledger.kind == "adjusted") & (ledger.points > 0))
        | ((ledger.kind == "reversed") & (ledger.bucket == "available"))
    )
    credits = {
        r.expires_at: int(r.points)
        for r in conn.execute(
            select(ledger.expires_at, func.sum(ledger.points).label("points"))
            .where(ledger.customer_id == customer_id, credit, ledger.expires_at.is_not(None))
            .group_by(ledger.expires_at)
        )
    }
    debit = ledger.kind.in_(("redeemed", "expired")) | ((ledger.kind == "adjusted") & (ledger.points < 0))
    debited = conn.execute(
        select(func.coalesce(func.sum(case((debit, -ledger.points), else_=0)), 0)).where(
            ledger.customer_id == customer_id
        )
    ).scalar_one()
    return Lots(credits, int(debited))
