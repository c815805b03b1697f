"""Server CPU time per request, beside the framework floor measured in the same run (issue #9, item 1).

A Couponry server (`couponry serve`, one process) and a bare FastAPI app (`floor_app` below: one async
endpoint that parses the same validation body with the same pydantic schema and answers a small JSON
object, served by uvicorn with the same options) run side by side. A client in this process sends N
sequential requests over one keep-alive connection to each, and the server's CPU time is read from the
kernel's counters of the server process before and after: the run time of each of its threads
(/proc/PID/task/*/schedstat, nanoseconds), with /proc/PID/stat's utime + stime (10 ms ticks) as a
cross-check. Rounds alternate between the servers so that both see the same machine.

CPU time per request is robust to other load on the machine (it counts only the time the server spent
on a core); wall-clock latency is not, and is measured by `openloop` instead.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from couponry.api.schemas.carts import ValidationIn
from couponry.bench.common import (
    Row,
    Section,
    admin_key,
    drop_postgres,
    free_port,
    fresh_postgres,
    fresh_sqlite,
    postgres_admin,
    postgres_reachable,
    running_server,
)
from couponry.bench.validation import CODES, _seed
from couponry.bench.validation import cart as validation_cart
from couponry.devserver import stop_process

PG_DB = "couponry_bench_cpu"
TARGET_VALIDATION = 2.0  # x the floor
TARGET_REDEMPTION = 3.0
REDEEM_CODE = "BENCHCPU"
_TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- the floor


def floor_app() -> Any:
    """The framework floor: FastAPI parsing the validation body with the same schema, answering JSON."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/floor")
    async def floor(body: ValidationIn) -> dict[str, Any]:
        return {"valid": True, "lines": len(body.cart.lines), "codes": len(body.codes)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextmanager
def running_floor() -> Iterator[tuple[str, int]]:
    """The floor app under uvicorn with `couponry serve`'s options; yields (base URL, server pid)."""
    port = free_port()
    code = (
        "import uvicorn; uvicorn.run('couponry.bench.cpu:floor_app', factory=True, host='127.0.0.1', "
        f"port={port}, access_log=False, log_config=None, server_header=False, log_level='warning')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"floor server exited: {process.stderr.read().decode()[-1000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("floor server did not start within 30 s")
            time.sleep(0.1)
        yield base, process.pid
    finally:
        stop_process(process, 10)


# ------------------------------------------------------------------------------------------ the client


class KeepAlive:
    """One keep-alive HTTP/1.1 connection, as cheap on the client side as Python allows: the request
    bytes are built once (bar the body), responses are read by Content-Length."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(head.encode() + b"\r\n" + body)
        return self._response()

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (all its threads, living or not), in seconds; 10 ms ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def thread_runtimes(pid: int) -> dict[str, int]:
    """Nanoseconds each living thread of `pid` spent on a CPU (the scheduler's own sum_exec_runtime)."""
    runtimes = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            runtimes[task.name] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return runtimes


def cpu_between(before: dict[str, int], after: dict[str, int]) -> float:
    """Seconds of CPU between two readings: threads born meanwhile count whole, threads that ended
    meanwhile (idle pool threads retiring) are left out."""
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9


@dataclass
class Target:
    """What one figure sends: `bodies(i)` is the i-th request's body; answers must have `status`."""

    name: str
    base: str
    pid: int
    path: str
    bodies: Callable[[int], bytes]
    headers: dict[str, str]
    status: int

    def __post_init__(self) -> None:
        self.conn = KeepAlive(self.base)
        self.sent = 0
        self.samples: list[float] = []
        self.ticks = 0.0  # the same from /proc/PID/stat (10 ms ticks), as a cross-check
        self.measured = 0

    def send(self, n: int) -> None:
        for _ in range(n):
            status, body = self.conn.request("POST", self.path, self.bodies(self.sent), self.headers)
            self.sent += 1
            if status != self.status:
                raise RuntimeError(f"{self.name}: answered {status}, expected {self.status}: {body[:300]!r}")

    def measure(self, n: int) -> None:
        # uvicorn closes a connection idle for 5 s (its keep-alive timeout), as this one may have been
        # while the other targets ran: open a fresh one, and send one request on it before counting
        self.conn.close()
        self.conn = KeepAlive(self.base)
        self.send(1)
        before, ticks = thread_runtimes(self.pid), cpu_seconds(self.pid)
        self.send(n)
        after, self.ticks = thread_runtimes(self.pid), self.ticks + cpu_seconds(self.pid) - ticks
        self.samples.append(cpu_between(before, after) / n * 1000)
        self.measured += n

    @property
    def ms(self) -> float:
        return statistics.median(self.samples)


def measure_all(targets: list[Target], requests: int, rounds: int, warmup: int) -> None:
    for t in targets:
        t.send(warmup)
    for _ in range(rounds):
        for t in targets:
            t.measure(requests)


# ------------------------------------------------------------------------------------------- the bodies


def validation_body() -> bytes:
    return json.dumps({"cart": validation_cart(20), "codes": CODES}, separators=(",", ":")).encode()


def redemption_bodies(code: str) -> Callable[[int], bytes]:
    """3 lines, one code, a fresh order id per request."""
    run = uuid.uuid4().hex[:8]
    cart = validation_cart(3)
    template = json.dumps(
        {"order_id": "ORDER", "cart": cart, "codes": [code]}, separators=(",", ":")
    ).encode()
    head, tail = template.split(b"ORDER")
    return lambda i: head + f"cpu-{run}-{i}".encode() + tail


def _seed_redemption(client: httpx.Client) -> None:
    r = client.post(
        "/v1/campaigns",
        json={
            "currency": "USD",
            "name": "Bench CPU redemption",
            "discount": {"type": "percent", "percent": 10},
            "stacking": "order",
            "limits": {"max_redemptions": 100_000_000},
        },
    )
    r.raise_for_status()
    client.post(f"/v1/campaigns/{r.json()['id']}/coupons", json={"codes": [REDEEM_CODE]}).raise_for_status()


# --------------------------------------------------------------------------------------------- running


@dataclass
class CpuFigures:
    """Median CPU ms per request of each target, and every round's figure."""

    samples: dict[str, list[float]]
    ticks_ms: dict[str, float]  # the same over all rounds from /proc/PID/stat's 10 ms ticks

    def ms(self, name: str) -> float:
        return statistics.median(self.samples[name])


def _server_targets(server: Any, key: str, vbody: bytes, suffix: str = "") -> list[Target]:
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    pid = server.process.pid
    return [
        Target("validation" + suffix, server.base, pid, "/v1/validations", lambda i: vbody, auth, 200),
        Target(
            "redemption" + suffix,
            server.base,
            pid,
            "/v1/redemptions",
            redemption_bodies(REDEEM_CODE),
            auth,
            201,
        ),
    ]


@contextmanager
def before_database(url: str) -> Iterator[str]:
    """An empty database beside `url` (same backend) for the "before" server: the older code cannot open
    a database migrated past its own revisions, so it migrates one of its own."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        before = path.with_name(path.stem + "-before.db")
        for leftover in before.parent.glob(before.name + "*"):
            leftover.unlink()
        yield f"sqlite:///{before}"
        return
    name = url.rsplit("/", 1)[1] + "_before"
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        drop_postgres(name)


def old_code_admin_key(url: str, src: str) -> str:
    """An admin key made by the code in `src` (`couponry keys create` migrates its database first)."""
    done = subprocess.run(
        [sys.executable, "-m", "couponry.cli", "keys", "create", "--role", "admin", "--name", "bench"],
        env={**os.environ, "PYTHONPATH": src, "COUPONRY_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the code in {src} could not make an admin key: {done.stderr[-1000:]}")
    return done.stdout.strip().splitlines()[-1]


def measure_backend(
    url: str, requests: int, rounds: int, warmup: int, compare_src: str | None = None
) -> CpuFigures:
    """Floor, validation and redemption; with `compare_src` (the `src` folder of another checkout of
    Couponry) the same two requests also go to a server of that code, on a database of its own (the
    older code cannot open one migrated past its revisions), in the same rounds: a before/after from
    one run."""
    key = admin_key(url)
    vbody = validation_body()
    with ExitStack() as stack:
        floor_base, floor_pid = stack.enter_context(running_floor())
        server = stack.enter_context(running_server(url, workers=1))
        _seed(server, key)
        with server.client(key) as client:
            _seed_redemption(client)
        targets = [
            Target(
                "floor",
                floor_base,
                floor_pid,
                "/floor",
                lambda i: vbody,
                {"Content-Type": "application/json"},
                200,
            ),
            *_server_targets(server, key, vbody),
        ]
        if compare_src:
            before_url = stack.enter_context(before_database(url))
            before_key = old_code_admin_key(before_url, compare_src)
            before = stack.enter_context(running_server(before_url, workers=1, PYTHONPATH=compare_src))
            _seed(before, before_key)
            with before.client(before_key) as client:
                _seed_redemption(client)
            targets += _server_targets(before, before_key, vbody, " (before)")
        try:
            measure_all(targets, requests, rounds, warmup)
        finally:
            for t in targets:
                t.conn.close()
    return CpuFigures(
        {t.name: t.samples for t in targets}, {t.name: t.ticks / t.measured * 1000 for t in targets}
    )


def _rows(backend: str, f: CpuFigures) -> list[Row]:
    floor = f.ms("floor")
    rows = []
    for name, what, target in (
        ("validation", "validation, 20 lines, 3 codes", TARGET_VALIDATION),
        ("redemption", "redemption, 3 lines, 1 code", TARGET_REDEMPTION),
    ):
        ours = f.ms(name)
        before = ""
        if name + " (before)" in f.samples:
            before = (
                f"; before: {f.ms(name + ' (before)'):.3f} ms, min {min(f.samples[name + ' (before)']):.3f}"
            )
        rows.append(
            Row(
                f"{backend}: {what}: server CPU per request",
                f"{ours:.3f} ms (min {min(f.samples[name]):.3f}{before})",
                f"{floor:.3f} ms (min {min(f.samples['floor']):.3f})",
                f"{ours / floor:.2f} x",
                f"<= {target:.0f} x",
                ours / floor <= target,
            )
        )
    return rows


def _spread(f: CpuFigures) -> str:
    return "; ".join(
        f"{name} " + "/".join(f"{x:.3f}" for x in xs) + f" (stat ticks: {f.ticks_ms[name]:.3f})"
        for name, xs in f.samples.items()
    )


def run(quick: bool) -> Section:
    requests, rounds, warmup = (300, 2, 100) if quick else (2000, 9, 500)
    compare = os.environ.get("COUPONRY_BENCH_COMPARE_SRC")
    section = Section("Server CPU per request (one process, sequential keep-alive requests)")
    with tempfile.TemporaryDirectory() as workdir:
        figures = measure_backend(fresh_sqlite(Path(workdir)), requests, rounds, warmup, compare)
        section.rows += _rows("SQLite", figures)
        section.notes.append(f"SQLite, every round (ms): {_spread(figures)}")
    why_not = postgres_reachable()
    if why_not is None:
        url = fresh_postgres(PG_DB)
        try:
            figures = measure_backend(url, requests, rounds, warmup, compare)
        finally:
            drop_postgres(PG_DB)
        section.rows += _rows("PostgreSQL", figures)
        section.notes.append(f"PostgreSQL, every round (ms): {_spread(figures)}")
    else:
        section.notes.append(f"PostgreSQL skipped: {why_not}")
    section.notes += [
        f"Each figure: the median of {rounds} rounds of {requests:,} sequential requests over one "
        f"keep-alive connection (after {warmup} warm-up requests): the server process's CPU time, the sum "
        "of its threads' run time (/proc/PID/task/*/schedstat) before and after each round. Rounds "
        "alternate between the targets so they share the machine's conditions. Other load on the machine "
        "only adds CPU time (cache and frequency effects), so the smallest round (min) is shown too.",
        "Floor: a bare FastAPI app (couponry.bench.cpu.floor_app) whose one async endpoint parses the same "
        "20-line validation body with the same pydantic schema (ValidationIn) and answers a small JSON "
        "object, under uvicorn with the options `couponry serve` uses.",
        "Ours: `couponry serve` (one process, log level WARNING), all three codes valid; redemption: one "
        "open code of a campaign with a redemption limit, 3 lines, a new order id per request.",
        "The database server's own CPU is not counted (a separate process), only the Python server's.",
    ]
    if compare:
        section.notes.append(
            f"(before): the same requests in the same rounds to a server of the code in {compare} "
            "(COUPONRY_BENCH_COMPARE_SRC), on a database of its own, migrated and seeded by that code."
        )
    return section


if __name__ == "__main__":
    print(run("--quick" in sys.argv).markdown())
