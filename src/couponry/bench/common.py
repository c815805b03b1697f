"""What every benchmark shares: the report's rows, fresh databases, a running server, raw load tools.

Nothing here imports from tests/: the few helpers the e2e tests also have (a server on a free port, an
admin key) are small enough to keep a copy that the installed package can use on its own.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from couponry import devserver
from couponry.adapters.db.engine import Database, normalize_url
from couponry.adapters.db.migrate import upgrade
from couponry.devserver import Server, free_port

__all__ = ["Server", "free_port", "running_server"]  # re-exported for the bench modules

# Connections per server process of the benchmarks' multi-process servers: 4 processes hold up to three
# times this each (docs/operations.md), and pgbench's 32 clients run beside them, within PostgreSQL's
# default max_connections of 100 (with the default of 10, a redemption run failed with "too many clients")
BENCH_POOL_SIZE = 6


def running_server(database_url: str, workers: int = 1, **env: str) -> AbstractContextManager[Server]:
    """devserver.running_server; with several processes, BENCH_POOL_SIZE connections each unless the
    environment or `env` says otherwise."""
    if workers > 1 and "COUPONRY_DB_POOL_SIZE" not in os.environ:
        env.setdefault("COUPONRY_DB_POOL_SIZE", str(BENCH_POOL_SIZE))
    return devserver.running_server(database_url, workers, **env)


PG_BASE = os.environ.get("COUPONRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLIENTS = 32
SERVER_PROCESSES = 4


# --------------------------------------------------------------------------------------------- report


@dataclass
class Row:
    """One figure of ours beside the raw limit measured in the same run."""

    figure: str
    ours: str
    raw: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        if self.rows:
            out += ["| figure | ours | raw limit | ours/raw | target | met? |", "|---|---|---|---|---|---|"]
            for r in self.rows:
                met = "-" if r.met is None else ("yes" if r.met else "**no**")
                out.append(f"| {r.figure} | {r.ours} | {r.raw} | {r.ratio} | {r.target} | {met} |")
            out.append("")
        out += [f"- {n}" for n in self.notes]
        return "\n".join(out).rstrip() + "\n"


def pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


# ------------------------------------------------------------------------------------------ databases


def postgres_admin(sql: str, base: str = PG_BASE) -> None:
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        postgres_admin("SELECT 1")
    except Exception as exc:  # the point is to say so in the report
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return None


def postgres_version() -> str:
    try:
        engine = create_engine(normalize_url(PG_BASE))
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            sync = conn.execute(text("SHOW synchronous_commit")).scalar_one()
        engine.dispose()
        return f"PostgreSQL {version.split()[0]} (synchronous_commit={sync})"
    except Exception:
        return "PostgreSQL unreachable"


def fresh_postgres(name: str) -> str:
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    postgres_admin(f'CREATE DATABASE "{name}"')
    url = PG_BASE.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    return url


def drop_postgres(name: str) -> None:
    try:
        postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # leave it; the next run drops it first anyway
        pass


def fresh_sqlite(directory: Path, name: str = "bench.db") -> str:
    for leftover in directory.glob(f"{name}*"):
        leftover.unlink()
    url = f"sqlite:///{directory / name}"
    migrate(url)
    return url


def migrate(url: str) -> None:
    db = Database(url)
    upgrade(db.engine)
    db.dispose()


def admin_key(url: str) -> str:
    from couponry.services.access.keys import create_key
    from couponry.services.ids import utcnow

    db = Database(url)
    try:
        return create_key(db, role="admin", name="bench", store_id=None, now=utcnow())[1]
    finally:
        db.dispose()


def sql(url: str, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params or {})
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------- server


def create_campaign(client: httpx.Client, body: dict[str, Any]) -> str:
    r = client.post("/v1/campaigns", json={"currency": "USD", **body})
    r.raise_for_status()
    return r.json()["id"]


def add_codes(client: httpx.Client, campaign_id: str, codes: list[str]) -> None:
    r = client.post(f"/v1/campaigns/{campaign_id}/coupons", json={"codes": codes})
    r.raise_for_status()


# ------------------------------------------------------------------------------------------ machines


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} CPU cores{f' ({model})' if model else ''}, Python {sys.version.split()[0]}"


def which(tool: str, *extra: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for path in extra:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return None


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


@contextmanager
def pg_wait_sampler(url: str, every: float = 0.05) -> Iterator[Counter[str]]:
    """Samples what the database's client backends are doing (pg_stat_activity) while the block runs:
    "waits on Lock:transactionid in UPDATE campaigns" says which row serializes the load."""
    import psycopg

    counts: Counter[str] = Counter()
    stop = threading.Event()
    query = (
        "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'running'), "
        "split_part(left(query, 60), ' SET', 1) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
    )

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                for state, wait, statement in conn.execute(query):
                    counts[f"{state}, {wait}, `{' '.join(statement.split()[:3])}`"] += 1
                stop.wait(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join(5)


def top_waits(counts: Counter[str], n: int = 4) -> str:
    total = sum(counts.values()) or 1
    return "; ".join(f"{k} {v / total:.0%}" for k, v in counts.most_common(n))
