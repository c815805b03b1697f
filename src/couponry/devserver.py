"""Running a real Couponry server in a child process (`couponry serve`) on a free port, until it is
healthy and every worker is up: shared by the end-to-end tests and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from couponry import serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    port: int
    database_url: str
    process: subprocess.Popen

    def client(self, key: str | None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=120, **kwargs)  # type: ignore[arg-type]

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor), for a profiler."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        workers = []
        for pid in children:  # the spawned workers, not multiprocessing's resource tracker
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(int(pid))
            except OSError:
                continue
        return workers


@contextmanager
def running_server(database_url: str, workers: int = 1, **env: str) -> Iterator[Server]:
    """`couponry serve --workers N` on a free port; log level WARNING (no per-request log lines)."""
    port = free_port()
    environment = {
        **os.environ,
        "COUPONRY_DATABASE_URL": database_url,
        "COUPONRY_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "couponry.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"server exited: {err[-2000:]}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.1)
        # every worker must be up, not only the first one that answered: started and, when each has a
        # socket of its own (couponry.serving), listening on it
        expected = workers if workers > 1 else 0
        sockets = expected if serving.supported() else min(expected, 1)
        server = Server(base, port, database_url, process)
        while expected and (len(server.worker_pids()) < expected or listening_sockets(port) < sockets):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        yield Server(base, port, database_url, process)
    finally:
        stop_process(process, 15)


def listening_sockets(port: int) -> int:
    """How many sockets listen on this TCP port (IPv4) on this machine."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            count += 1
    return count


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """Terminate a child server, kill it if it does not stop within `timeout` s, and close its stderr."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()
