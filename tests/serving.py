"""Running the real server for end-to-end tests: `couponry serve` in a child process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(database_url: str, *args: str) -> str:
    """Run `couponry ARGS` against `database_url`; returns stdout (raises on a non-zero exit)."""
    env = {**os.environ, "COUPONRY_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "couponry.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"couponry {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def create_key(database_url: str, role: str = "admin", store_id: str | None = None) -> str:
    args = ["keys", "create", "--role", role, "--name", f"test {role}"]
    if store_id:
        args += ["--store-id", store_id]
    return cli(database_url, *args).strip().splitlines()[-1]


@dataclass
class Server:
    base: str
    database_url: str
    process: subprocess.Popen

    def client(self, key: str | None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60, **kwargs)


@contextmanager
def running_server(database_url: str, workers: int = 1, **env: str) -> Iterator[Server]:
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
                raise RuntimeError(
                    f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.1)
        yield Server(base, database_url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
