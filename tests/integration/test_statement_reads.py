"""Database.statement_reads: reads outside a transaction, each statement on its own snapshot; with
`kept` (SQLite, the event loop's thread) on a connection the thread keeps, never holding a snapshot or a
transaction between two uses."""

from __future__ import annotations

import threading

from sqlalchemy import Connection, insert, text

from couponry.adapters.db.driver import execute
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import api_key_revocations


def _write_counter(db: Database, value: int) -> None:
    with db.write() as conn:
        conn.execute(api_key_revocations.delete())
        conn.execute(insert(api_key_revocations).values(id=1, counter=value))


def _read_counter(conn: Connection) -> int | None:
    """On the driver's connection, as the hot read runs its one query (adapters.db.driver)."""
    row = execute(conn, "SELECT counter FROM api_key_revocations", {}).fetchone()
    return row[0] if row else None


def test_each_read_sees_what_was_committed_before_it(db: Database) -> None:
    for kept in (False, True):
        _write_counter(db, 1)
        with db.statement_reads(kept=kept) as conn:
            assert _read_counter(conn) == 1
            _write_counter(db, 2)  # committed by another connection meanwhile
            assert _read_counter(conn) == 2


def test_a_kept_connection_is_the_same_for_a_thread_and_left_without_a_transaction(db: Database) -> None:
    with db.statement_reads(kept=True) as first:
        first.execute(text("SELECT 1"))  # through SQLAlchemy: begins a transaction
        assert first.in_transaction()
    with db.statement_reads(kept=True) as second:
        same = second is first
        assert not second.in_transaction()
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(db._kept_connection()))
    thread.start()
    thread.join()

    assert same == (not db.is_postgres)  # PostgreSQL takes from the pool: its reads go on the loop anyway
    assert others and others[0] is not first


def test_dispose_closes_the_kept_connections(db_url: str) -> None:
    db = Database(db_url)
    with db.statement_reads(kept=True) as conn:
        conn.execute(text("SELECT 1"))
    db.dispose()

    assert db.is_postgres or conn.closed
