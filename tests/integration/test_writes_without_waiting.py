"""Database.writes_without_waiting (SQLite): the event loop's thread may run a redemption's transaction
itself only if it never waits. While another connection holds SQLite's write lock it gets WriterBusy at
once with nothing written, and the same redemption then succeeds where waiting is allowed; the log it
never checkpoints itself is checkpointed on a thread of the Database, so it does not grow without end."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import insert

from couponry.adapters.db import engine as engine_module
from couponry.adapters.db.engine import Database, WriterBusy
from couponry.adapters.db.tables import api_key_revocations
from couponry.services.access.actors import SYSTEM
from couponry.services.checkout import redemptions
from tests.integration.checkout import T0, campaign, issue, orders_redeemed, redeemed_count, request


@pytest.fixture
def sqlite_db(db: Database) -> Database:
    if not db.is_sqlite:
        pytest.skip("SQLite's one write lock; PostgreSQL writers wait on rows (and the loop never writes)")
    return db


def _hold_the_write_lock(db: Database) -> sqlite3.Connection:
    """Another connection (another process, say) in the middle of a write transaction."""
    other = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_redemption_that_would_wait_for_the_write_lock_raises_writer_busy_and_writes_nothing(
    sqlite_db: Database,
) -> None:
    issue(sqlite_db, campaign(sqlite_db, max_redemptions=10), "CODE")
    other = _hold_the_write_lock(sqlite_db)
    try:
        started = time.monotonic()
        with pytest.raises(WriterBusy), sqlite_db.writes_without_waiting():
            redemptions.redeem(sqlite_db, SYSTEM, request("o1"), T0)
        assert time.monotonic() - started < 0.5  # no busy wait (the pool's connections wait 30 s)
    finally:
        other.rollback()
        other.close()
    assert orders_redeemed(sqlite_db, "o1") == 0 and redeemed_count(sqlite_db, "CODE") == 0
    # and once the lock is free, the same request succeeds, in the block or outside it
    with sqlite_db.writes_without_waiting():
        status, _ = redemptions.redeem(sqlite_db, SYSTEM, request("o1"), T0)
    assert status == 201 and redeemed_count(sqlite_db, "CODE") == 1


def test_outside_the_block_a_write_waits_for_the_lock_as_before(sqlite_db: Database) -> None:
    other = _hold_the_write_lock(sqlite_db)
    with sqlite_db.writes_without_waiting():
        pass  # the thread's writer exists now; writes outside the block must not use it
    threading.Timer(0.3, lambda: (other.rollback(), other.close())).start()
    started = time.monotonic()
    with sqlite_db.write() as conn:
        conn.execute(insert(api_key_revocations).values(id=1, counter=1))
    assert time.monotonic() - started >= 0.25  # it waited for the other writer


def test_the_log_of_writes_without_waiting_is_checkpointed_on_another_thread(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "CHECKPOINT_EVERY", 50)
    wal = sqlite_db.engine.url.database + "-wal"
    sizes = []
    with sqlite_db.writes_without_waiting():
        for n in range(1_000):
            with sqlite_db.write() as conn:
                conn.execute(api_key_revocations.delete())
                conn.execute(insert(api_key_revocations).values(id=1, counter=n))
            if n % 100 == 99:
                time.sleep(0.05)  # let the checkpoint thread catch up
                sizes.append(os.path.getsize(wal))
    # without checkpoints the log grows by a page per commit (1,000 commits: 4.1 MB, measured);
    # checkpointed every 50 commits it is reused from its start (measured: 100 pages, 412 KB); the
    # bound leaves room for a checkpoint thread a few hundred commits late on a loaded machine
    assert max(sizes) < 400 * 4096, sizes
