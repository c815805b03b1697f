"""Statements that stand alone on PostgreSQL, run on the event loop: the validation's one query, the
commonest redemption's read and statement, and a completed order's one statement
(adapters.db.order_events), without handing the request to a thread.

Only statements that stand alone run here (autocommit: each on its own snapshot and, when it writes,
its own transaction); anything with more than one statement stays on the blocking engine. The one
exception is `fetch_together`: requests running the same standalone statement at the same time share
a transaction, sent as one pipeline (group commit; see there).

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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.numeric import Int8BinaryDumper

from couponry.adapters.db.driver import psycopg_sql

PREPARED_PER_CONNECTION = 200  # beyond that (statements that vary: a redemption's lines), unprepared
BATCH_TASKS = 2  # fetch_together: batches of one statement running at once in a process
BATCH_MOST = 64  # fetch_together: statements in one batch at most
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
        values, types, formats = self._dumped(names, params)
        name = self.prepared.get((query, types))  # prepared already, almost always: no await for it
        if name is None:
            name = await self._prepared(query, types)
        self._send(query, name, values, types, formats)
        try:
            return await self._result()
        except (psycopg.errors.InvalidSqlStatementName, psycopg.errors.FeatureNotSupported):
            # the server no longer has it, or a schema change altered its result ("cached plan must not
            # change result type"): the statement did not run, so it is prepared anew and run once more
            if name is None or not retry:
                raise
            self.prepared.clear()
            return await self.fetch(sql, params, retry=False)

    async def fetch_in_one_transaction(
        self, sql: str, many: list[dict[str, Any]]
    ) -> list[list[tuple[Any, ...]]] | None:
        """The rows of `sql` run with each of `many`, all in one transaction sent as one pipeline (BEGIN,
        the statements, COMMIT: one round trip, one commit); None if any of them failed, and then
        nothing was written and the connection is idle again."""
        query, names = positional(sql)
        sends = []
        for params in many:
            values, types, formats = self._dumped(names, params)
            sends.append((await self._prepared(query, types), values, types, formats))
        pgconn = self.pgconn
        pgconn.enter_pipeline_mode()
        try:
            pgconn.send_query_params(b"BEGIN", None)
            for name, values, types, formats in sends:
                self._send(query, name, values, types, formats)
            pgconn.send_query_params(b"COMMIT", None)
            pgconn.pipeline_sync()
            groups = await self._pipeline_results()
        finally:
            if pgconn.pipeline_status != pq.PipelineStatus.OFF and not pgconn.is_busy():
                pgconn.exit_pipeline_mode()
        failed = len(groups) != len(sends) + 2 or any(
            r.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK) for g in groups for r in g
        )
        if failed or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            if pgconn.transaction_status == pq.TransactionStatus.INERROR:
                pgconn.send_query_params(b"ROLLBACK", None)
                await self._result()
            return None
        return [self._rows(group[-1]) for group in groups[1:-1]]

    def _dumped(
        self, names: tuple[str, ...], params: dict[str, Any]
    ) -> tuple[Any, tuple[int, ...], list[Any]]:
        tx = self.transformer
        values = tx.dump_sequence([params[n] for n in names], [PyFormat.AUTO] * len(names))
        return values, tuple(tx.types), list(tx.formats)

    async def _prepared(self, query: bytes, types: tuple[int, ...]) -> bytes | None:
        """The name `query` is prepared under for `types` on this connection (prepared now if need be);
        None beyond PREPARED_PER_CONNECTION statements."""
        name = self.prepared.get((query, types))
        if name is None and len(self.prepared) < PREPARED_PER_CONNECTION:
            name = b"couponry_%d" % self.named
            self.named += 1
            self.pgconn.send_prepare(name, query, param_types=types)
            await self._result()
            self.prepared[query, types] = name
        return name

    def _send(
        self, query: bytes, name: bytes | None, values: Any, types: tuple[int, ...], formats: list[Any]
    ) -> None:
        if name is None:
            self.pgconn.send_query_params(query, values, param_types=types, param_formats=formats)
        else:
            self.pgconn.send_query_prepared(name, values, param_formats=formats)

    async def _pipeline_results(self) -> list[list[pq.abc.PGresult]]:
        """Each command's results up to the pipeline's sync (libpq ends each command's with None)."""
        pgconn = self.pgconn
        if pgconn.flush():
            await self._flushed()
        groups: list[list[pq.abc.PGresult]] = []
        current: list[pq.abc.PGresult] = []
        try:
            while True:
                while not pgconn.is_busy():
                    got = pgconn.get_result()
                    if got is None:
                        if not current:
                            break  # nothing more has come in yet
                        groups.append(current)
                        current = []
                    elif got.status == pq.ExecStatus.PIPELINE_SYNC:
                        return groups
                    else:
                        current.append(got)
                await self._more_input()
        finally:
            self.waiter = None

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
                await self._more_input()
        finally:
            self.waiter = None

    async def _more_input(self) -> None:
        """Until the socket brought more of the server's answer (`_readable` consumed it)."""
        self.waiter = self.loop.create_future()
        await self.waiter
        if self.pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the connection to the database was lost")

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
        pgconn = self.pgconn
        return (
            pgconn.status == pq.ConnStatus.OK
            and pgconn.transaction_status == pq.TransactionStatus.IDLE
            and pgconn.pipeline_status == pq.PipelineStatus.OFF
        )

    async def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        await self.conn.close()


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


@dataclass(slots=True)
class _Queued:
    order: tuple[str, ...]
    params: dict[str, Any]
    answer: asyncio.Future[list[tuple[Any, ...]]]


class LoopReads:
    def __init__(self, url: str, size: int) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.size = max(size, 1)
        self._idle: list[_Connection] = []
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._opened = 0  # connections made and not yet closed, idle or in use
        self._closed = False
        self._queued: dict[str, list[_Queued]] = {}  # fetch_together's statements waiting, by SQL
        self._batchers: dict[str, int] = {}  # the batching tasks running, by SQL
        self.batches = 0  # transactions of more than one statement run by fetch_together (for tests)

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

    async def fetch_together(
        self, sql: str, params: dict[str, Any], order: tuple[str, ...]
    ) -> list[tuple[Any, ...]]:
        """As `fetch`, for a statement that writes and stands alone, committed together with the same
        statement of the other requests of this process that wait for it at the time (group commit).

        Why: a completed order's statement committed on its own cost PostgreSQL a transaction, a round
        trip and a WAL flush each, and the server process a send and a wake-up each; with 4 processes
        and 32 clients, PostgreSQL took 40 % of the machine. Up to BATCH_TASKS batches per statement run
        at once, each on its own connection; a batch takes every request queued when it starts (up to
        BATCH_MOST), so nobody waits for a batch to fill: alone, a request runs as `fetch` does.

        A batch runs its statements in `order` (their rows' keys, e.g. customer then order id), so two
        batches lock the same rows in the same order and never deadlock on each other. If one of them
        fails, the batch writes nothing and each statement runs again on its own, so a request sees
        only its own statement's error."""
        answer: asyncio.Future[list[tuple[Any, ...]]] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(sql, []).append(_Queued(order, params, answer))
        if self._batchers.get(sql, 0) < BATCH_TASKS:
            self._batchers[sql] = self._batchers.get(sql, 0) + 1
            asyncio.get_running_loop().create_task(self._batch(sql))
        return await answer

    async def _batch(self, sql: str) -> None:
        try:
            while self._queued.get(sql):
                try:
                    c = await self._acquire()
                except Exception as exc:  # no connection to be had: the requests waiting hear why
                    for q in self._queued.pop(sql, []):
                        if not q.answer.done():
                            q.answer.set_exception(exc)
                    return
                try:
                    await self._run_batch(c, sql)
                except Exception:  # the connection was lost; its requests were told
                    pass
                finally:
                    if c.usable and not c.pgconn.is_busy():
                        self._release(c)
                    else:
                        await self._discard(c)
        finally:
            self._batchers[sql] -= 1

    async def _run_batch(self, c: _Connection, sql: str) -> None:
        queue = self._queued.get(sql, [])  # (another batcher may have failed them all meanwhile)
        taken = [q for q in queue[:BATCH_MOST] if not q.answer.done()]  # done: its request was cancelled
        del queue[:BATCH_MOST]
        taken.sort(key=lambda q: q.order)
        try:
            together = None
            if len(taken) > 1:
                together = await c.fetch_in_one_transaction(sql, [q.params for q in taken])
                self.batches += together is not None
            if together is not None:
                for q, rows in zip(taken, together, strict=True):
                    if not q.answer.done():
                        q.answer.set_result(rows)
                return
            for q in taken:  # one request, or a batch that failed: each on its own
                try:
                    rows = await c.fetch(sql, q.params)
                except Exception as exc:
                    if not c.usable or c.pgconn.is_busy():
                        raise
                    if not q.answer.done():
                        q.answer.set_exception(exc)
                else:
                    if not q.answer.done():
                        q.answer.set_result(rows)
        except BaseException as exc:  # the connection is lost (or the task cancelled): tell whoever waits
            for q in taken:
                if not q.answer.done():
                    q.answer.set_exception(
                        exc if isinstance(exc, Exception) else psycopg.OperationalError("the batch stopped")
                    )
            raise

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
