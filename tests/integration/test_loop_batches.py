"""Statements committed together (LoopReads.fetch_together): requests running the same standalone
statement at the same time share one transaction, in the order of their keys; a statement that fails
fails alone and the others are still written; a request alone runs as `fetch` does. And order events
recorded that way earn exactly once, balances equal to the ledger."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text

from couponry.adapters.db import subscriptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.db.tables import events, loyalty_accounts, points_ledger
from couponry.services.access.actors import SYSTEM
from couponry.services.customers.customers import record_event, record_order_alone
from couponry.services.loyalty import program
from tests.integration.checkout import T0

pytestmark = pytest.mark.skipif(
    not os.environ.get("COUPONRY_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the loop's connections are PostgreSQL's; this runs in the PostgreSQL pass",
)

INSERT = (
    "INSERT INTO batch_scratch (k, n) VALUES (:k, :n) "
    "RETURNING k, CAST(txid_current() AS bigint), nextval('batch_scratch_seq')"
)


@pytest.fixture
def scratch(db: Database) -> Iterator[None]:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS batch_scratch"))
        conn.execute(text("DROP SEQUENCE IF EXISTS batch_scratch_seq"))
        conn.execute(text("CREATE TABLE batch_scratch (k text PRIMARY KEY, n int NOT NULL CHECK (n >= 0))"))
        conn.execute(text("CREATE SEQUENCE batch_scratch_seq"))
    yield
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE batch_scratch"))
        conn.execute(text("DROP SEQUENCE batch_scratch_seq"))


def _stored(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {k: n for k, n in conn.execute(text("SELECT k, n FROM batch_scratch"))}


def _together(db: Database, items: list[tuple[str, int]]) -> tuple[list[Any], int]:
    """Each item's answer (rows, or the exception it raised) and the number of batches, all queued at
    once on one loop."""

    async def run() -> tuple[list[Any], int]:
        reads = LoopReads(db.url, 2)
        await reads.open()
        try:
            answers = await asyncio.gather(
                *(reads.fetch_together(INSERT, {"k": k, "n": n}, (k,)) for k, n in items),
                return_exceptions=True,
            )
            return list(answers), reads.batches
        finally:
            await reads.close()

    return asyncio.run(run())


def test_statements_queued_together_commit_in_one_transaction_in_the_order_of_their_keys(
    db: Database, scratch: None
) -> None:
    keys = [f"k{i:02d}" for i in reversed(range(30))]  # queued in the reverse of their order

    answers, batches = _together(db, [(k, 1) for k in keys])

    rows = {a[0][0]: a[0][1:] for a in answers}
    assert sorted(rows) == sorted(keys)
    assert batches >= 1
    transactions = {txid for txid, _ in rows.values()}
    assert len(transactions) < len(keys)  # shared: at most two batches start before the rest queue
    for txid in transactions:  # within a transaction, the statements ran in key order
        ran = sorted((seq, k) for k, (t, seq) in rows.items() if t == txid)
        assert [k for _, k in ran] == sorted(k for _, k in ran)
    assert _stored(db) == {k: 1 for k in keys}


def test_a_failing_statement_fails_alone_and_the_others_are_written(db: Database, scratch: None) -> None:
    items = [(f"k{i:02d}", -1 if i == 7 else i) for i in range(20)]

    answers, _ = _together(db, items)

    assert isinstance(answers[7], psycopg.errors.CheckViolation)
    assert all(
        isinstance(a, list) and a[0][0] == k for (k, _), a in zip(items, answers, strict=True) if k != "k07"
    )
    assert _stored(db) == {k: n for k, n in items if k != "k07"}


def test_a_request_alone_runs_in_autocommit_with_no_batch(db: Database, scratch: None) -> None:
    answers, batches = _together(db, [("only", 5)])

    assert answers[0][0][0] == "only"
    assert batches == 0
    assert _stored(db) == {"only": 5}


def test_concurrent_order_events_committed_together_earn_once_each(db: Database) -> None:
    subscriptions.forget()
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    customers = [f"c{i}" for i in range(8)]
    for c in customers:
        program.join(db, SYSTEM, c, T0)
    record_event(db, SYSTEM, _order("c0", "warm-up"), T0)  # this process now knows the program
    # 40 orders over 8 customers, each sent three times at once: the same order can sit in one batch
    orders = [_order(customers[i % 8], f"o{i}") for i in range(40)]

    async def run() -> tuple[list[Any], int]:
        reads = LoopReads(db.url, 3)
        await reads.open()
        try:
            answers = await asyncio.gather(
                *(record_order_alone(reads, db, SYSTEM, o, T0) for o in orders * 3)
            )
            return answers, reads.batches
        finally:
            await reads.close()

    answers, batches = asyncio.run(run())
    subscriptions.forget()

    assert batches >= 1
    assert all(a is not None for a in answers)
    fresh = [a["ref"] for a in answers if not a["duplicate"]]  # type: ignore[index]
    assert sorted(fresh) == sorted(o["order_id"] for o in orders)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 41
        earned = conn.execute(
            select(func.count(), func.sum(points_ledger.c.points)).where(points_ledger.c.kind == "earned")
        ).one()
        assert tuple(earned) == (41, 41 * 10)
        for c in customers:
            pending = conn.execute(
                select(loyalty_accounts.c.pending).where(loyalty_accounts.c.customer_id == c)
            ).scalar_one()
            summed = conn.execute(
                select(func.sum(points_ledger.c.pending_change)).where(points_ledger.c.customer_id == c)
            ).scalar_one()
            assert pending == summed


def _order(customer: str, order: str) -> dict[str, Any]:
    return {"type": "order.completed", "customer_id": customer, "order_id": order, "amount": 1000}


def test_a_batch_whose_connection_is_killed_fails_its_requests_and_the_next_batch_runs(db: Database) -> None:
    admin = db.url.replace("postgresql+psycopg://", "postgresql://")
    sleeping = "SELECT pg_sleep(CAST(:s AS float8)), CAST(:k AS text)"

    async def run() -> tuple[list[Any], list[Any]]:
        reads = LoopReads(db.url, 2)
        await reads.open()

        def kill() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()"
                )

        async def killer() -> None:
            await asyncio.sleep(0.3)  # the batch is in pg_sleep by now
            await asyncio.to_thread(kill)

        try:
            first = await asyncio.wait_for(
                asyncio.gather(
                    *(reads.fetch_together(sleeping, {"s": 2, "k": f"k{i}"}, (f"k{i}",)) for i in range(6)),
                    killer(),
                    return_exceptions=True,
                ),
                timeout=10,
            )
            after = await asyncio.wait_for(
                asyncio.gather(
                    *(reads.fetch_together(sleeping, {"s": 0, "k": f"a{i}"}, (f"a{i}",)) for i in range(4))
                ),
                timeout=10,
            )
            return first[:6], after
        finally:
            await reads.close()

    first, after = asyncio.run(run())

    assert all(isinstance(a, psycopg.OperationalError) for a in first), first
    assert sorted(rows[0][1] for rows in after) == ["a0", "a1", "a2", "a3"]
