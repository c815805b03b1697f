"""Rollbacks as facts for the roll-ups: one row per whole rollback or refunded line, written in the
rollback's transaction (a rollback changes rows in place; the roll-ups fold these rows instead)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert

from couponry.adapters.db.tables import measure_adjustments


def record_rollback(conn: Connection, redemption_id: str, now: datetime) -> None:
    conn.execute(
        insert(measure_adjustments).values(redemption_id=redemption_id, kind="rollback", created_at=now)
    )


def record_refund(
    conn: Connection, redemption_id: str, lines: Sequence[tuple[str, int]], now: datetime
) -> None:
    rows = [
        {
            "redemption_id": redemption_id,
            "kind": "refund",
            "line_id": line_id,
            "quantity": quantity,
            "created_at": now,
        }  # fmt: skip
        for line_id, quantity in lines
    ]
    if rows:
        conn.execute(insert(measure_adjustments), rows)
