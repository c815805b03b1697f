"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflicts(
    conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]]
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns how many rows were inserted.

    Counted from RETURNING rather than rowcount, which psycopg reports as -1 for these statements."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table).on_conflict_do_nothing().returning(literal_column("1"))
    return len(conn.execute(stmt, values).all())


def for_update_skip_locked(conn: Connection) -> str:
    """Row locking clause: PostgreSQL hands each row to one worker; SQLite already serializes writers."""
    return " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
