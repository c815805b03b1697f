"""Keeping the roll-ups folded: a scheduled job, and a short fold before a report is read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from couponry.adapters.db import rollups
from couponry.adapters.db.engine import Database
from couponry.services.scheduling.scheduler import JobContext


def fold(db: Database, timezone: str, now: datetime, *, seconds: float = 20.0, rounds: int = 10_000) -> int:
    """Fold until caught up (or `seconds` have passed); returns the redemptions touched."""
    deadline = time.monotonic() + seconds
    touched = 0
    if db.is_postgres:  # the ranges a fold scans: without this, rows loaded since are read in full
        with db.write() as conn:
            rollups.summarize(conn)
    for _ in range(rounds):
        try:
            with db.write() as conn:
                done = rollups.fold_once(conn, timezone, now)
        except OperationalError:  # a concurrent fold held the row past a lock timeout: the next one
            break
        touched += done
        if not done or time.monotonic() > deadline:
            break
    return touched


def fold_job(ctx: JobContext) -> None:
    fold(ctx.db, ctx.settings.shop_timezone, ctx.now)


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """One consistent snapshot for roll-ups and tail together (REPEATABLE READ on PostgreSQL; SQLite's
    read transaction already is one)."""
    if not db.is_postgres:
        with db.read() as conn:
            yield conn
        return
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        yield conn
