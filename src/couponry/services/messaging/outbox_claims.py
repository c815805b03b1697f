"""Taking due outbox rows for delivery with a lease, and settling them afterwards.

A claim is its own short transaction: the rows become `sending` with `available_at` pushed to the end
of the lease, and the network work happens outside any transaction (a SQLite writer lock or a
PostgreSQL row lock is never held across an SMTP or HTTP exchange). If the process dies while sending,
the lease runs out and another tick takes the rows again: delivery is at least once.
PostgreSQL hands each row to one claimer (FOR UPDATE SKIP LOCKED); SQLite serializes writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update

from couponry.adapters.db.engine import Database

LEASE = timedelta(minutes=10)


def claim_due(
    db: Database, table: Table, now: datetime, limit: int, *where: Any, order_by: Any = None
) -> list[Any]:
    """Lease up to `limit` rows of `table` that are pending (or whose lease ran out) and due at `now`."""
    c = table.c
    due = (c.status.in_(("pending", "sending")), c.available_at <= now, *where)
    with db.write() as conn:
        ids = list(
            conn.execute(
                select(c.id)
                .where(*due)
                .order_by(order_by if order_by is not None else c.available_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not ids:
            return []
        return list(
            conn.execute(
                update(table)
                .where(c.id.in_(ids), *due)
                .values(status="sending", attempts=c.attempts + 1, available_at=now + LEASE)
                .returning(*c)
            ).all()
        )


def settle(db: Database, table: Table, outcomes: Sequence[tuple[Any, dict[str, Any]]]) -> None:
    """Write each leased row's outcome, unless its lease was lost meanwhile (another claimer took it)."""
    if not outcomes:
        return
    c = table.c
    with db.write() as conn:
        for row, values in outcomes:
            conn.execute(
                update(table)
                .where(c.id == row.id, c.status == "sending", c.attempts == row.attempts)
                .values(**values)
            )


def retry_values(backoff: Any, row: Any, now: datetime, error: str, **extra: Any) -> dict[str, Any]:
    """Pending again after the backoff, or failed for good after the last allowed attempt."""
    if backoff.gives_up(row.attempts):
        return {"status": "failed", "last_error": f"gave up after {row.attempts} attempts: {error}", **extra}
    return {
        "status": "pending",
        "available_at": now + backoff.delay(row.attempts, row.id),
        "last_error": error,
        **extra,
    }


def released(row: Any, now: datetime) -> dict[str, Any]:
    """Give a leased row back untried (its attempt does not count)."""
    return {"status": "pending", "attempts": row.attempts - 1, "available_at": now}
