"""Statements that stand alone on PostgreSQL, run on the event loop: the validation's one query, the
commonest redemption's read and statement, and a completed order's one statement
(adapters.db.order_events), without handing the request to a thread.

Only statements that stand alone run here (autocommit: each on its own snapshot and, when it writes,
its own transaction); anything with more than one statement stays on the blocking engine.

How a statement runs, and why at this level. Measured here (uvloop, one 3-row query, CPU of the
calling process): handing a blocking psycopg query to a worker thread and back ~145 us; psycopg's
async cursor on a kept connection 110-145 us; the same through psycopg_pool's `connection()` ~160 us;
libpq's own calls as psycopg exposes them (`pgconn.send_query_params`, wait for the socket to be
readable, `get_result`, rows loaded by psycopg's Transformer) 67-72 us. So a statement here is sent
with libpq's extended protocol, its parameters dumped and its rows loaded by psycopg's adapters (the
same Python values as a psycopg cursor gives), an error raised as psycopg's own exception class
(`psycopg.errors.error_from_result`), and the process keeps its few connections in a list of its own.

Statements are prepared, once per connection, with the parameter types of their first run (up to
PREPARED_PER_CONNECTION of them): PostgreSQL then neither parses nor plans them again. A completed
order's statement is a dozen common table expressions, and with 4 server processes earning on 2
cores, PostgreSQL's share of the CPU was about 60 %. Python integers are sent as bigint whatever their
value (psycopg picks the smallest type that holds each value), so a statement's parameter types, and
so its prepared form, do not change with the amounts in it.

Each server process holds up to `size` of these connections besides its engine's pool.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.numeric import Int8BinaryDumper

from couponry.adapters.db.driver import psycopg_sql

PREPARED_PER_CONNECTION = 200  # beyond that (statements that vary: a redemption's lines), unprepared
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


@lru_cache(maxsize=256)
def positional(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """A statement written with `:name` parameters as libpq's `$1, $2 ...` and the names in that order
    (a name used twice is one parameter); translated once per statement."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, psycopg_sql(sql)).encode(), tuple(names)


class _Connection:
    """One autocommit connection, the adapters its statements' values go through, and its socket
    watched by the event loop for as long as it lives (one registration, not two system calls per
    wait)."""

    __slots__ = ("conn", "pgconn", "transformer", "fd", "loop", "waiter", "prepared", "named")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        conn.adapters.register_dumper(int, Int8BinaryDumper)  # one type whatever the value: see above
        self.transformer = Transformer(conn)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self.named = 0
        self.fd = conn.pgconn.socket
        self.loop = asyncio.get_running_loop()
        self.waiter: asyncio.Future[None] | None = None
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        # read what came into libpq's buffer, so a readable socket never makes the loop spin (a notice
        # between statements, or the server closing the connection: then stop watching it)
        try:
            self.pgconn.consume_input()
        except psycopg.OperationalError:
            self.loop.remove_reader(self.fd)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def fetch(self, sql: str, params: dict[str, Any], retry: bool = True) -> list[tuple[Any, ...]]:
        query, names = positional(sql)
        tx = self.transformer
        values = tx.dump_sequence([params[n] for n in names], [PyFormat.AUTO] * len(names))
        types = tuple(tx.types)
        pgconn = self.pgconn
        name = self.prepared.get((query, types))
        if name is None and len(self.prepared) < PREPARED_PER_CONNECTION:
            name = b"couponry_%d" % self.named
            self.named += 1
            pgconn.send_prepare(name, query, param_types=types)
            await self._result()
            self.prepared[query, types] = name
        if name is None:
            pgconn.send_query_params(query, values, param_types=types, param_formats=tx.formats)
        else:
            pgconn.send_query_prepared(name, values, param_formats=tx.formats)
        try:
            return await self._result()
        except (psycopg.errors.InvalidSqlStatementName, psycopg.errors.FeatureNotSupported):
            # the server no longer has it, or a schema change altered its result ("cached plan must not
            # change result type"): the statement did not run, so it is prepared anew and run once more
            if name is None or not retry:
                raise
            self.prepared.clear()
            return await self.fetch(sql, params, retry=False)

    async def _result(self) -> list[tuple[Any, ...]]:
        pgconn = self.pgconn
        if pgconn.flush():  # only a statement larger than the socket's buffer gets here
            await self._flushed()
        result = None
        try:
            while True:
                while not pgconn.is_busy():
                    got = pgconn.get_result()
                    if got is None:
                        return self._rows(result)
                    result = got
                self.waiter = self.loop.create_future()
                await self.waiter
                if self.pgconn.status != pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the connection to the database was lost")
        finally:
            self.waiter = None

    async def _flushed(self) -> None:
        while self.pgconn.flush():
            writable = self.loop.create_future()
            self.loop.add_writer(self.fd, _wake, writable)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)

    def _rows(self, result: pq.abc.PGresult | None) -> list[tuple[Any, ...]]:
        if result is None:
            raise psycopg.OperationalError("the server sent no result")
        if result.status == pq.ExecStatus.TUPLES_OK:
            tx = self.transformer
            tx.set_pgresult(result)
            return tx.load_rows(0, result.ntuples, tuple)
        if result.status == pq.ExecStatus.COMMAND_OK:
            return []
        raise psycopg.errors.error_from_result(result, encoding=self.conn.info.encoding)

    @property
    def usable(self) -> bool:
        return self.pgconn.status == pq.ConnStatus.OK and (
            self.pgconn.transaction_status == pq.TransactionStatus.IDLE
        )

    async def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        await self.conn.close()


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class LoopReads:
    def __init__(self, url: str, size: int) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.size = max(size, 1)
        self._idle: list[_Connection] = []
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._opened = 0  # connections made and not yet closed, idle or in use
        self._closed = False

    async def open(self) -> None:
        """Makes the first connection, so a wrong address fails the start, not the first request."""
        self._closed = False
        self._release(await self._connect())

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for c in idle:
            await self._discard(c)

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one statement written with `:name` parameters (as adapters.db.driver's)."""
        c = await self._acquire()
        try:
            rows = await c.fetch(sql, params)
        except BaseException:
            # an error the server answered leaves the connection idle and usable; anything else
            # (a cancelled request mid-statement, a lost connection) may leave it mid-protocol
            if c.usable and not c.pgconn.is_busy():
                self._release(c)
            else:
                await self._discard(c)
            raise
        self._release(c)
        return rows

    async def _acquire(self) -> _Connection:
        while True:
            if self._idle:
                idle = self._idle.pop()
                if idle.usable:
                    return idle
                await self._discard(idle)  # closed while idle (a database restart): make another
                continue
            if self._opened < self.size:
                return await self._connect()
            turn: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                handed = await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled() and turn.result() is not None:
                    self._release(turn.result())  # handed over just as the request was cancelled
                raise
            if handed is not None:
                return handed
            # None: a connection was closed, so there is room to make one

    async def _connect(self) -> _Connection:
        self._opened += 1
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except BaseException:
            self._opened -= 1
            self._hand_on(None)
            raise
        return _Connection(conn)

    def _release(self, c: _Connection) -> None:
        if self._closed:
            asyncio.get_running_loop().create_task(self._discard(c))
            return
        if not self._hand_on(c):
            self._idle.append(c)

    def _hand_on(self, c: _Connection | None) -> bool:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(c)
                return True
        return False

    async def _discard(self, c: _Connection) -> None:
        self._opened -= 1
        try:
            await c.close()
        finally:
            self._hand_on(None)
