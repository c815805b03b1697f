"""The event loop's own PostgreSQL connections (adapters.db.loop_reads.LoopReads): values go in and
come out as a psycopg cursor gives them, errors are psycopg's own classes, never more than `size`
connections, and a request cancelled mid-statement does not leave a connection behind in a state the
next request would trip over."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads, positional

pytestmark = pytest.mark.skipif(
    not os.environ.get("COUPONRY_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the loop's connections are PostgreSQL's; this runs in the PostgreSQL pass",
)


def with_reads(db: Database, size: int, use: Callable[[LoopReads], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        reads = LoopReads(db.url, size)
        await reads.open()
        try:
            return await use(reads)
        finally:
            await reads.close()

    return asyncio.run(run())


def test_named_parameters_become_positional_once_each_and_percent_signs_stay() -> None:
    sql, names = positional("SELECT :a, :b, :a WHERE x LIKE 'a%' AND y = :c")

    assert sql == b"SELECT $1, $2, $1 WHERE x LIKE 'a%' AND y = $3"
    assert names == ("a", "b", "c")


def test_values_come_back_as_a_psycopg_cursor_gives_them(db: Database) -> None:
    sql = (
        "SELECT CAST(:text AS text), CAST(:number AS bigint), CAST(:at AS timestamptz), "
        "CAST(:doc AS jsonb), :nothing, CAST(:codes AS text[])"
    )
    params = {
        "text": "hé %s",
        "number": 2**40,
        "at": datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
        "doc": '{"a": [1, 2]}',
        "nothing": None,
        "codes": ["A", "B"],
    }
    with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        from couponry.adapters.db.driver import psycopg_sql

        expected = conn.execute(psycopg_sql(sql), params).fetchall()

    assert with_reads(db, 1, lambda reads: reads.fetch(sql, params)) == expected
    assert expected[0][0] == "hé %s" and expected[0][3] == {"a": [1, 2]}


def test_a_statement_without_rows_answers_an_empty_list(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        await reads.fetch("CREATE TEMPORARY TABLE IF NOT EXISTS loop_scratch (n int)", {})
        return await reads.fetch("INSERT INTO loop_scratch VALUES (:n)", {"n": 1})

    assert with_reads(db, 1, use) == []


def test_an_error_is_psycopgs_own_class_and_the_connection_goes_on_serving(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await reads.fetch("SELECT 1 / CAST(:zero AS int)", {"zero": 0})
        with pytest.raises(psycopg.errors.UndefinedTable):
            await reads.fetch("SELECT * FROM no_such_table_here", {})
        return await reads.fetch("SELECT CAST(:n AS int) + 1", {"n": 41}), reads._opened

    assert with_reads(db, 1, use) == ([(42,)], 1)


def test_concurrent_statements_share_at_most_size_connections(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        sql = "SELECT pg_backend_pid(), pg_sleep(0.05), CAST(:i AS int)"
        answers = await asyncio.gather(*(reads.fetch(sql, {"i": i}) for i in range(12)))
        rows = [row for (row,) in answers]
        return {pid for pid, _, _ in rows}, [i for _, _, i in rows], reads._opened

    pids, order, opened = with_reads(db, 3, use)

    assert len(pids) == 3 and opened == 3
    assert order == list(range(12))


def test_a_request_cancelled_mid_statement_leaves_no_busy_connection_behind(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        slow = asyncio.create_task(reads.fetch("SELECT pg_sleep(5)", {}))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        started = asyncio.get_running_loop().time()
        rows = await reads.fetch("SELECT CAST(:n AS int)", {"n": 7})
        return rows, asyncio.get_running_loop().time() - started, reads._opened

    rows, took, opened = with_reads(db, 1, use)

    assert rows == [(7,)]
    assert took < 2  # not behind the cancelled pg_sleep(5): that connection was closed, not reused
    assert opened == 1


def test_a_request_waiting_for_a_connection_can_be_cancelled_without_losing_one(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        busy = asyncio.create_task(reads.fetch("SELECT pg_sleep(0.2)", {}))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(reads.fetch("SELECT 1", {}))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await busy
        return await reads.fetch("SELECT 2", {}), reads._opened, len(reads._idle)

    assert with_reads(db, 1, use) == ([(2,)], 1, 1)


def test_a_statement_is_prepared_once_whatever_the_size_of_its_integers(db: Database) -> None:
    async def use(reads: LoopReads) -> Any:
        sums = [await reads.fetch("SELECT CAST(:n AS bigint) + 1", {"n": n}) for n in (1, 70_000, 2**40)]
        prepared = await reads.fetch(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE :like", {"like": "%+ 1"}
        )
        return sums, prepared

    sums, prepared = with_reads(db, 1, use)

    assert sums == [[(2,)], [(70_001,)], [(2**40 + 1,)]]
    assert prepared == [("SELECT CAST($1 AS bigint) + 1",)]


def test_a_prepared_statement_whose_table_changed_shape_is_prepared_again(db: Database) -> None:
    table = f"loop_shape_{os.getpid()}"
    admin = db.url.replace("postgresql+psycopg://", "postgresql://")

    async def use(reads: LoopReads) -> Any:
        before = await reads.fetch(f"SELECT * FROM {table}", {})
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN b int DEFAULT 2")
        return before, await reads.fetch(f"SELECT * FROM {table}", {})

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (a int)")
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    try:
        before, after = with_reads(db, 1, use)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")

    assert before == [(1,)]
    assert after == [(1, 2)]


def test_connections_the_database_closed_while_idle_are_replaced_without_failing_a_request(
    db: Database,
) -> None:
    admin = db.url.replace("postgresql+psycopg://", "postgresql://")

    async def use(reads: LoopReads) -> Any:
        pids = await asyncio.gather(
            *(reads.fetch("SELECT pg_backend_pid(), pg_sleep(0.05)", {}) for _ in range(3))
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            for ((pid, _),) in pids:
                conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        await asyncio.sleep(0.2)  # the loop sees the sockets close
        answers = [await reads.fetch("SELECT CAST(:n AS int)", {"n": n}) for n in range(3)]
        return answers, reads._opened

    answers, opened = with_reads(db, 3, use)

    assert answers == [[(0,)], [(1,)], [(2,)]]
    assert opened == 1
