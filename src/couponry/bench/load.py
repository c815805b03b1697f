"""Load generators: HTTP (wrk, else a multi-process asyncio client) and raw SQL (pgbench, else psycopg).

HTTP load is closed-loop: `clients` connections, each sending its next request as soon as the previous
answer arrived. A request body is a template in which `{N}` becomes the request's index (6 digits; each
index is used once across all clients, `total` bounds it) and `{ORDER}` a unique order id.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from couponry.bench.common import CLIENTS, which

PGBENCH_PATHS = ("/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench")


@dataclass
class HttpLoad:
    path: str
    body: str  # JSON text; may hold {N} and {ORDER}
    key: str
    duration: float
    total: int | None = None  # indices 0 .. total-1, each used once; then the client stops
    stop_after_refusals: int | None = None  # per load thread: stop once this many 409s came back


@dataclass
class HttpResult:
    tool: str
    requests: int
    seconds: float
    ok: int
    refused: int
    other: int
    p50_ms: float
    p99_ms: float
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def http_tool() -> str:
    return "wrk" if which("wrk") else "a Python client (2 processes x asyncio + httpx, no wrk installed)"


def run_http(base: str, load: HttpLoad, clients: int = CLIENTS) -> HttpResult:
    if which("wrk"):
        return _run_wrk(base, load, clients)
    return _run_python(base, load, clients)


# ------------------------------------------------------------------------------------------------ wrk

_LUA = r"""
local threads = {}
local BODY = [==[__BODY__]==]
local TOTAL = __TOTAL__
local STOP_AFTER = __STOP_AFTER__
local RUN = "__RUN__"
local NTHREADS = __NTHREADS__
wrk.method = "POST"
wrk.path = "__PATH__"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer __KEY__"

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

ok, refused, other, counter, stopped = 0, 0, 0, 0, false

-- wrk keeps running until its duration ends even when every thread stopped, so each thread says so
-- on stderr and the caller interrupts wrk (SIGINT: wrk then prints its summary and calls done()).
function stop_thread()
  if not stopped then
    stopped = true
    io.stderr:write("BENCHSTOP\n")
    io.stderr:flush()
  end
  wrk.thread:stop()
end
local dynamic = BODY:find("{N}", 1, true) or BODY:find("{ORDER}", 1, true)
if not dynamic then wrk.body = BODY end

if dynamic then
  function request()
    local n = tid + counter * NTHREADS
    counter = counter + 1
    if TOTAL >= 0 and n >= TOTAL then
      stop_thread()
      return wrk.format("GET", "/healthz", {}, nil)
    end
    local body = BODY:gsub("{N}", string.format("%06d", n)):gsub("{ORDER}", RUN .. "-" .. n)
    return wrk.format(nil, nil, nil, body)
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status == 409 then
    refused = refused + 1
    if STOP_AFTER >= 0 and refused >= STOP_AFTER then stop_thread() end
  else
    other = other + 1
    if other <= 2 then io.stderr:write("status " .. status .. ": " .. (body or ""):sub(1, 300) .. "\n") end
  end
end

function done(summary, latency, requests)
  local o, r, x = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); r = r + t:get("refused"); x = x + t:get("other") end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "ok": %d, "refused": %d, "other": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, o, r, x, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout))
end
"""


def _run_wrk(base: str, load: HttpLoad, clients: int) -> HttpResult:
    threads = 2 if clients >= 2 else 1
    script = (
        _LUA.replace("__BODY__", load.body)
        .replace("__TOTAL__", str(-1 if load.total is None else load.total))
        .replace("__STOP_AFTER__", str(-1 if load.stop_after_refusals is None else load.stop_after_refusals))
        .replace("__RUN__", "o" + uuid.uuid4().hex[:10])
        .replace("__NTHREADS__", str(threads))
        .replace("__PATH__", load.path)
        .replace("__KEY__", load.key)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        lua = fh.name
    try:
        seconds = max(1, round(load.duration))
        args = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "30s"]
        process = subprocess.Popen(
            [*args, "-s", lua, base], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        errors: list[str] = []

        def watch() -> None:
            stops = 0
            for err_line in process.stderr:  # type: ignore[union-attr]
                if err_line.strip() == "BENCHSTOP":
                    stops += 1
                    if stops == threads:
                        process.send_signal(signal.SIGINT)
                else:
                    errors.append(err_line)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        killer = threading.Timer(seconds + 120, process.kill)
        killer.start()
        with process:  # closes wrk's pipes once it has exited
            stdout = process.stdout.read()  # type: ignore[union-attr]  # until wrk exits
            process.wait()
            killer.cancel()
            watcher.join(5)
    finally:
        os.unlink(lua)
    done = subprocess.CompletedProcess(args, process.returncode, stdout, "".join(errors))
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    if data["other"]:
        raise RuntimeError(f"{data['other']} unexpected answers from {load.path}: {done.stderr[-600:]}")
    return HttpResult(
        "wrk",
        data["ok"] + data["refused"],  # the GET /healthz sent while stopping is not counted
        data["duration_us"] / 1e6,
        data["ok"],
        data["refused"],
        data["other"],
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["socket_errors"],
    )


def _gather(procs: list[Any], queue: Any, timeout: float) -> list[Any]:
    """One result per child process; raises instead of hanging when a child dies without one."""
    import queue as queues

    for p in procs:
        p.start()
    results: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=1))
        except queues.Empty:
            dead = [p for p in procs if not p.is_alive() and p.exitcode != 0]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                raise RuntimeError(
                    f"load process failed (exit codes {[p.exitcode for p in procs]})"
                ) from None
    for p in procs:
        p.join()
    return results


# -------------------------------------------------------------------------- python (no wrk installed)


def _python_worker(
    base: str, load: HttpLoad, index: int, processes: int, tasks: int, run: str, out: Any
) -> None:
    import httpx

    latencies: list[float] = []
    counts = {"ok": 0, "refused": 0, "other": 0}
    state = {"counter": 0, "stop": False}
    deadline = time.perf_counter() + load.duration
    dynamic = "{N}" in load.body or "{ORDER}" in load.body

    async def client(http: httpx.AsyncClient) -> None:
        while not state["stop"] and time.perf_counter() < deadline:
            n = index + state["counter"] * processes
            state["counter"] += 1
            if load.total is not None and n >= load.total:
                state["stop"] = True
                return
            body = (
                load.body.replace("{N}", f"{n:06d}").replace("{ORDER}", f"{run}-{n}")
                if dynamic
                else load.body
            )
            started = time.perf_counter()
            r = await http.post(load.path, content=body)
            latencies.append(time.perf_counter() - started)
            if 200 <= r.status_code < 300:
                counts["ok"] += 1
            elif r.status_code == 409:
                counts["refused"] += 1
                if load.stop_after_refusals is not None and counts["refused"] >= load.stop_after_refusals:
                    state["stop"] = True
            else:
                counts["other"] += 1

    async def main() -> None:
        headers = {"Authorization": f"Bearer {load.key}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
            await asyncio.gather(*(client(http) for _ in range(tasks)))

    started = time.perf_counter()
    asyncio.run(main())
    out.put({**counts, "seconds": time.perf_counter() - started, "latencies": latencies})


def _run_python(base: str, load: HttpLoad, clients: int) -> HttpResult:
    processes = 2
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    run = "o" + uuid.uuid4().hex[:10]
    procs = [
        ctx.Process(target=_python_worker, args=(base, load, i, processes, clients // processes, run, queue))
        for i in range(processes)
    ]
    parts = _gather(procs, queue, load.duration + 120)
    latencies = sorted(x for part in parts for x in part["latencies"])
    if not latencies:
        raise RuntimeError("the Python load generator got no answer")
    return HttpResult(
        "python (2 processes x asyncio + httpx)",
        len(latencies),
        max(part["seconds"] for part in parts),
        sum(p["ok"] for p in parts),
        sum(p["refused"] for p in parts),
        sum(p["other"] for p in parts),
        latencies[len(latencies) // 2] * 1000,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        0,
    )


# ----------------------------------------------------------------------------------------- raw SQL


@dataclass
class RawScript:
    """The raw SQL one transaction runs. `:n` is a random integer in 1..n_max, `:client_id` the client."""

    statements: list[str]
    n_max: int = 1
    transaction: bool = True
    # pgbench sends the whole transaction, COMMIT included, in one round trip (pipeline mode); the
    # psycopg fallback ignores it
    pipeline: bool = False

    def pgbench(self) -> str:
        lines = [f"\\set n random(1, {self.n_max})"]
        lines += ["\\startpipeline"] if self.pipeline else []
        lines += ["BEGIN;"] if self.transaction else []
        lines += [s.rstrip(";") + ";" for s in self.statements]
        lines += ["END;"] if self.transaction else []
        lines += ["\\endpipeline"] if self.pipeline else []
        return "\n".join(lines) + "\n"


def raw_tool() -> str:
    return "pgbench" if which("pgbench", *PGBENCH_PATHS) else "psycopg"


def run_raw(url: str, script: RawScript, duration: float, clients: int = CLIENTS) -> float:
    """Transactions per second of `script` on PostgreSQL at `clients` connections."""
    pgbench = which("pgbench", *PGBENCH_PATHS)
    if pgbench:
        return _run_pgbench(pgbench, url, script, duration, clients)
    return _run_psycopg(url, script, duration, clients)


def _run_pgbench(pgbench: str, url: str, script: RawScript, duration: float, clients: int) -> float:
    u = make_url(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write(script.pgbench())
        path = fh.name
    env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
    args = [
        pgbench,
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(max(1, round(duration))),
    ]
    args += ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    args += ["-f", path, u.database or "postgres"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=duration + 120)
    finally:
        os.unlink(path)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stdout[-600:]} {done.stderr[-600:]}")
    return float(match.group(1))


def _psycopg_worker(url: str, script: RawScript, duration: float, threads: int, first: int, out: Any) -> None:
    import random

    import psycopg

    statements = [s.replace(":n", "%(n)s").replace(":client_id", "%(client_id)s") for s in script.statements]
    counts = [0] * threads
    barrier = threading.Barrier(threads)

    def client(i: int) -> None:
        rng = random.Random()
        with psycopg.connect(url, autocommit=not script.transaction, prepare_threshold=0) as conn:
            barrier.wait()
            deadline = time.perf_counter() + duration
            while time.perf_counter() < deadline:
                params = {"n": str(rng.randint(1, script.n_max)), "client_id": str(first + i)}
                for s in statements:
                    conn.execute(s, params)
                if script.transaction:
                    conn.commit()
                counts[i] += 1

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(sum(counts))


def _run_psycopg(url: str, script: RawScript, duration: float, clients: int) -> float:
    url = url.replace("postgresql+psycopg://", "postgresql://")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_psycopg_worker, args=(url, script, duration, clients // 2, i * clients // 2, queue)
        )
        for i in range(2)
    ]
    total = sum(_gather(procs, queue, duration + 120))
    return total / duration


def _sqlite_lookups(path: str, query: str, codes: list[str], duration: float, out: Any) -> None:
    import random

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    rng = random.Random()
    count = 0
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        for _ in range(100):
            con.execute(query, (rng.choice(codes),)).fetchall()
        count += 100
    con.close()
    out.put(count)


def run_sqlite_lookups(path: str, query: str, codes: list[str], duration: float, processes: int = 2) -> float:
    """Look-ups per second with the sqlite3 module, one process per core (the most SQLite gives here)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_sqlite_lookups, args=(path, query, codes, duration, queue))
        for _ in range(processes)
    ]
    total = sum(_gather(procs, queue, duration + 120))
    return total / duration
