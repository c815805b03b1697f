"""Running a hot statement on the driver's own connection (sqlite3 or psycopg), past SQLAlchemy.

SQLAlchemy Core costs tens of microseconds per statement on top of the driver even with its compiled
cache (the statement's cache key is computed on every execution, then an execution context and a
result with its row processors are built), which on the checkout path was more than the driver and the
database spent. The few statements of that path run here instead: written once as SQL with `:name`
parameters, translated once per dialect, executed on the connection of the current SQLAlchemy
transaction (so they are part of it), rows read as plain tuples. What SQLAlchemy's column types did on
the way in and out is done by hand where it matters: SQLite keeps datetimes as naive UTC text and JSON
as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@lru_cache(maxsize=256)
def psycopg_sql(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (and `%` escaped), translated once per statement."""
    return str(text(sql).compile(dialect=postgresql_psycopg.dialect()))


def execute(conn: Connection, sql: str, params: Mapping[str, Any]) -> Any:
    """Run `sql` in the connection's current transaction (begun if it was not yet); the driver's cursor."""
    dbapi = conn.connection.driver_connection
    if is_postgres(conn):
        return dbapi.execute(psycopg_sql(sql), params)  # type: ignore[union-attr]
    return dbapi.execute(sql, params)  # type: ignore[union-attr]


@contextmanager
def reads_outside_transaction(conn: Connection) -> Iterator[None]:
    """PostgreSQL: the statements of the block run in autocommit, without BEGIN and COMMIT (two round
    trips saved), when the connection has not started its transaction yet; elsewhere nothing changes.

    Under READ COMMITTED every statement takes its own snapshot, in a transaction or not, so a read
    sees the same either way; the transaction's writes (after the block) begin it as usual. SQLite
    keeps its transaction: there a read transaction is one snapshot for all its statements."""
    dbapi = conn.connection.driver_connection
    if not is_postgres(conn) or dbapi.info.transaction_status != TransactionStatus.IDLE:  # type: ignore[union-attr]
        yield
        return
    dbapi.autocommit = True  # type: ignore[union-attr]
    try:
        yield
    finally:
        dbapi.autocommit = False  # type: ignore[union-attr]


def text_array(values: Sequence[str]) -> str:
    """`values` as PostgreSQL's literal of a text array, every element quoted ({"A","B"}), to be sent as a
    plain string parameter: PostgreSQL reads it as the array the statement wants (`= ANY(:codes)`),
    exactly as it reads psycopg's own dump of a list of strings (also an untyped text literal), without
    psycopg's search for the elements' dumper, which cost more than the rest of the hot read's values."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


def utc(value: Any) -> datetime | None:
    """A stored timestamp as SQLAlchemy's UTCDateTime reads it: aware, in UTC when SQLite kept it naive."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", naive UTC
        return _sqlite_time(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@lru_cache(maxsize=8192)
def _sqlite_time(text: str) -> datetime:
    """Parsed once per distinct text: the hot path reads the same campaigns' and coupons' times on
    every request (datetimes are immutable, so sharing them is safe)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def stored_time(conn: Connection, value: datetime) -> Any:
    """A datetime to store as SQLAlchemy's UTCDateTime does (SQLite: naive UTC text)."""
    value = value.astimezone(UTC)
    if is_postgres(conn):
        return value
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def from_json(value: Any) -> Any:
    """A JSON column's value: psycopg parses json itself, sqlite3 hands back the text."""
    return json.loads(value) if isinstance(value, str | bytes) else value
