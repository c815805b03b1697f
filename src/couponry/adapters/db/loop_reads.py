"""Statements that stand alone on PostgreSQL's async driver, on the event loop: the validation's one
query, and a completed order's one statement (adapters.db.order_events), without handing the request to
a thread.

Measured here (uvloop, one query): a blocking psycopg query costs ~75 us of CPU on the calling thread,
the same through psycopg's async connection, and ~145 us when it is handed to a worker thread and back
(submit, wake-up, future callbacks, the GIL changing hands twice); in the server that hop was a fifth of
a PostgreSQL validation's CPU. Only statements that stand alone run here (autocommit: each on its own
snapshot and, when it writes, its own transaction); anything with more than one statement stays on the
blocking engine.

The pool is psycopg_pool's (the psycopg project's own), opened with the app and closed with it. Each
server process holds up to `size` of these connections besides its engine's pool.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from couponry.adapters.db.driver import psycopg_sql


class LoopReads:
    def __init__(self, url: str, size: int) -> None:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.pool = AsyncConnectionPool(
            conninfo, min_size=1, max_size=max(size, 1), kwargs={"autocommit": True}, open=False
        )

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one statement written with `:name` parameters (as adapters.db.driver's)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(psycopg_sql(sql), params)
            return await cursor.fetchall()
