"""Building the engine for SQLite (default, WAL) or PostgreSQL (psycopg 3), and the unit of work.

SQLite serializes writers; a write transaction starts with BEGIN IMMEDIATE so that a second writer waits
on the busy timeout instead of failing later with "database is locked" on its first write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as exc_module
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

# SQLite, writes without waiting (Database.writes_without_waiting): a checkpoint of the write-ahead log,
# on a thread of its own, after this many commits of the connection that never checkpoints itself
CHECKPOINT_EVERY = 500


class WriterBusy(Exception):
    """SQLite's write lock was held by another connection, and this write does not wait for it: nothing
    was written (its transaction was rolled back); run it again where waiting is allowed."""


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        # As many pooled connections as the server has request threads (40): a connection opened past
        # the pool is closed again after one request, and opening one costs its PRAGMAs every time.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=max(pool_size, 40),
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # noqa: ANN001
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # on the driver's connection: through exec_driver_sql, SQLAlchemy's execution context and
            # result for a BEGIN cost a tenth of a SQLite redemption's CPU
            write = conn.get_execution_options().get("write")
            try:
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "BEGIN IMMEDIATE" if write else "BEGIN DEFERRED"
                )
            except sqlite3.Error as exc:  # as SQLAlchemy raises it (OperationalError: database is locked)
                raise exc_module.DBAPIError.instance("BEGIN", (), exc, sqlite3.Error) from exc

        return engine
    if url.startswith("postgresql"):
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, pool_recycle=3600
        )
    return create_engine(url, poolclass=NullPool)


class Database:
    """The one handle services receive. `write()` and `read()` each open one transaction.

    The transaction commits when the block ends without an exception and rolls back otherwise.
    """

    def __init__(self, url: str, pool_size: int = 10, limit_slots: int = 8) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(url, pool_size)
        # rows a campaign-wide limit is spread over when it is set (adapters.db.limit_slots)
        self.limit_slots = limit_slots
        self._kept = threading.local()  # statement_reads(kept=True): a connection per calling thread
        self._kept_all: list[Connection] = []
        self._kept_lock = threading.Lock()
        self._loop_commits = 0
        self._checkpoints: ThreadPoolExecutor | None = None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if getattr(self._kept, "no_wait", False):
            with self._write_without_waiting() as conn:
                yield conn
            return
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def writes_without_waiting(self) -> Iterator[None]:
        """SQLite: the write transactions this thread opens in the block (`write()`) run on a connection
        of its own that never waits: not for the write lock (WriterBusy is raised instead, the
        transaction rolled back) and not for a checkpoint of the write-ahead log (a thread of the
        Database runs those, every CHECKPOINT_EVERY commits).

        For the event loop's thread, which may run a short write itself (the redemption's common case)
        but must never block: a request thread's hand-off cost a fifth of a redemption's CPU. Commits
        do not wait for the disk either (synchronous=NORMAL in WAL mode: the log is synced at
        checkpoints). Elsewhere (PostgreSQL) the block changes nothing."""
        if not self.is_sqlite:
            yield
            return
        self._kept.no_wait = True
        try:
            yield
        finally:
            self._kept.no_wait = False

    @contextmanager
    def _write_without_waiting(self) -> Iterator[Connection]:
        conn: Connection | None = getattr(self._kept, "writer", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._kept.writer = self.engine.connect().execution_options(write=True)
            dbapi = conn.connection.driver_connection
            dbapi.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            dbapi.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
            with self._kept_lock:
                self._kept_all.append(conn)
        try:
            with conn.begin():
                yield conn
        except OperationalError as exc:
            if isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig):
                raise WriterBusy() from exc
            raise
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """A PASSIVE checkpoint (it waits for nobody and nobody waits for it) on the checkpoint thread."""
        if self._checkpoints is None:
            self._checkpoints = ThreadPoolExecutor(1, thread_name_prefix="couponry-checkpoint")

        def checkpoint() -> None:
            raw = self.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            finally:
                raw.close()

        self._checkpoints.submit(checkpoint)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def statement_reads(self, *, kept: bool = False) -> Iterator[Connection]:
        """A connection for reads whose statements run outside any transaction, each on its own
        snapshot: no BEGIN and COMMIT (on PostgreSQL two round trips, on SQLite a third of a hot
        validation's database time). For reads that each stand alone, as under READ COMMITTED; a
        statement run through SQLAlchemy still begins a transaction, rolled back at the end.

        `kept` (SQLite): the calling thread keeps one connection for these reads instead of taking
        one from the pool each time (checkout, return and reset cost ten times the validation's query).
        Meant for the event loop's thread, the one thread that reads SQLite without a hand-off; the
        request threads take theirs from the pool, which is sized for them."""
        if kept and not self.is_postgres:
            conn = self._kept_connection()
            try:
                yield conn
            finally:
                if conn.in_transaction():
                    conn.rollback()
            return
        with self.engine.connect() as conn:
            if not self.is_postgres:  # sqlite3 runs in autocommit: BEGIN is only ever sent by _on_begin
                yield conn
                return
            dbapi = conn.connection.driver_connection
            dbapi.autocommit = True  # type: ignore[union-attr]
            try:
                yield conn
            finally:
                dbapi.autocommit = False  # type: ignore[union-attr]

    def _kept_connection(self) -> Connection:
        conn: Connection | None = getattr(self._kept, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._kept.conn = self.engine.connect()
            with self._kept_lock:
                self._kept_all.append(conn)
        return conn

    def dispose(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.shutdown(wait=True)
            self._checkpoints = None
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for conn in kept:
            if conn.get_execution_options().get("write"):  # a writer that never waits: not for the pool
                conn.invalidate()
            conn.close()
        self.engine.dispose()
