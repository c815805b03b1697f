"""Validation latency under a realistic load (issue #9, item 3): an open-loop load at a fixed rate.

Closed-loop clients (N connections, each sending as soon as its last answer came) measure queueing:
when the server slows down, they slow down with it and the slow answers are never counted as late.
Here requests are *scheduled* at a fixed rate (request i at t0 + i / rate, like wrk2), sent over a
pool of keep-alive connections by a client in its own process, and each latency is measured from the
request's scheduled time, not from when a connection was free to send it (no coordinated omission).

The rate is half the maximum throughput measured just before, on the same server, by the same client
in closed loop.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from couponry.bench.common import (
    Row,
    Section,
    admin_key,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    postgres_reachable,
    running_server,
)
from couponry.bench.cpu import validation_body
from couponry.bench.validation import _seed

PG_DB = "couponry_bench_openloop"
TARGET_P99_MS = 10.0
SERVER_PROCESSES = 2  # one per core of the machines of record
CONNECTIONS = 32


@dataclass
class Load:
    base: str
    path: str
    body: bytes
    headers: dict[str, str]
    seconds: float
    rate: float | None = None  # requests per second; None: closed loop at full speed
    connections: int = CONNECTIONS


@dataclass
class Outcome:
    sent: int
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]  # sorted

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return self.latencies_ms[min(len(self.latencies_ms) - 1, int(len(self.latencies_ms) * p))]


def _request_bytes(load: Load) -> bytes:
    host = load.base.removeprefix("http://")
    head = f"POST {load.path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(load.body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in load.headers.items())
    return head.encode() + b"\r\n" + load.body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _drive(load: Load) -> Outcome:
    host, port = load.base.removeprefix("http://").split(":")
    request = _request_bytes(load)
    conns = [await asyncio.open_connection(host, int(port)) for _ in range(load.connections)]
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0, "sent": 0}
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    start = loop.time()
    end = start + load.seconds

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            if load.rate is None:
                if loop.time() >= end:
                    break
                scheduled = loop.time()
            else:
                item = await queue.get()
                if item is None:
                    break
                scheduled = item
            counts["sent"] += 1
            try:
                status = await _exchange(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError):
                # the server dropped the connection (e.g. a worker restarted): a failed request, and a
                # new connection for the next one
                counts["failed"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
                continue
            latencies.append((loop.time() - scheduled) * 1000)
            counts["ok" if status == 200 else "failed"] += 1
        writer.close()

    async def schedule(rate: float) -> None:
        total = int(load.seconds * rate)
        for i in range(total):
            at = start + i / rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(at)
        for _ in conns:
            queue.put_nowait(None)

    workers = [asyncio.create_task(connection(r, w)) for r, w in conns]
    if load.rate is not None:
        await schedule(load.rate)
    await asyncio.gather(*workers)
    seconds = loop.time() - start
    return Outcome(counts["sent"], counts["ok"], counts["failed"], seconds, sorted(latencies))


def _child(load: Load, out: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio is fine, a little more CPU per request
        pass
    # The generator's own pauses would count as the server's latency: a full collection of its ~95,000
    # objects (imports, the latencies gathered) took 56-64 ms here, several times a run. Frozen, they
    # are left out of every collection.
    gc.freeze()
    outcome = asyncio.run(_drive(load))
    out.put(outcome)


def drive(load: Load) -> Outcome:
    """Run `load` from a child process (its CPU is not the server's, and it has its own GIL)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(load, queue))
    process.start()
    try:
        outcome = queue.get(timeout=load.seconds + 120)
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    return outcome


@dataclass
class Figures:
    max_rate: float
    rate: float
    outcome: Outcome
    failed_at_max: int  # requests that got no 200 (an error answer or a dropped connection)


def measure_backend(url: str, seconds: float, warmup: float) -> Figures:
    key = admin_key(url)
    with running_server(url, workers=SERVER_PROCESSES) as server:
        _seed(server, key)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        body = validation_body()
        drive(Load(server.base, "/v1/validations", body, headers, warmup))  # every worker warm
        closed = drive(Load(server.base, "/v1/validations", body, headers, seconds))
        rate = closed.throughput / 2
        outcome = drive(Load(server.base, "/v1/validations", body, headers, seconds, rate=rate))
    return Figures(closed.throughput, rate, outcome, closed.failed)


def _rows(backend: str, f: Figures) -> list[Row]:
    o = f.outcome
    return [
        Row(
            f"{backend}: maximum validations/s (closed loop, {CONNECTIONS} connections)",
            f"{f.max_rate:,.0f} /s",
        ),
        Row(
            f"{backend}: validation latency p99 at {f.rate:,.0f}/s (half the maximum, open loop)",
            f"{o.percentile(0.99):.1f} ms (p50 {o.percentile(0.5):.1f} ms, p90 {o.percentile(0.9):.1f} ms, "
            f"max {o.percentile(1.0):.1f} ms; {o.ok:,} answers"
            + (f", {o.failed:,} failed)" if o.failed else ")"),
            target=f"<= {TARGET_P99_MS:.0f} ms",
            met=o.percentile(0.99) <= TARGET_P99_MS and not o.failed,
        ),
    ]


def run(quick: bool) -> Section:
    seconds, warmup = (4, 1) if quick else (20, 3)
    section = Section(
        f"Validation latency at half the maximum rate, open loop ({SERVER_PROCESSES} server processes)"
    )
    with tempfile.TemporaryDirectory() as workdir:
        section.rows += _rows("SQLite", measure_backend(fresh_sqlite(Path(workdir)), seconds, warmup))
    why_not = postgres_reachable()
    if why_not is None:
        url = fresh_postgres(PG_DB)
        try:
            section.rows += _rows("PostgreSQL", measure_backend(url, seconds, warmup))
        finally:
            drop_postgres(PG_DB)
    else:
        section.notes.append(f"PostgreSQL skipped: {why_not}")
    how = (
        f"First the maximum: {CONNECTIONS} keep-alive connections in closed loop for {seconds} s (after "
        f"{warmup} s of warm-up); then an open loop at half that rate for {seconds} s."
    )
    section.notes += [
        "POST /v1/validations (20 lines, 3 codes, all valid) to `couponry serve --workers "
        f"{SERVER_PROCESSES}` (log level WARNING). {how}",
        "Request i is scheduled at t0 + i / rate and its latency counts from that time, whether or not a "
        "connection was free to send it (no coordinated omission).",
        "Load generator: one child process, asyncio (uvloop) over raw keep-alive sockets "
        f"(couponry.bench.openloop), {CONNECTIONS} connections. Its timer wakes within about a millisecond "
        "of each scheduled time; that lateness is part of the measured latency.",
        "Wall-clock latency depends on everything else the machine runs: the load generator, PostgreSQL and "
        "any other process share its cores. Figures from a machine shared with other work are upper bounds.",
    ]
    return section


if __name__ == "__main__":
    import sys

    print(run("--quick" in sys.argv).markdown())
