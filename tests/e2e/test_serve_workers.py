"""`couponry serve --workers N` (couponry.serving): each process accepts on a socket of its own, so
connections opened together are spread over every process; a process that dies is replaced; SIGTERM
stops them all; a port already taken is refused at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from couponry import serving
from tests.serving import accepted_connections, free_port, running_server

pytestmark = pytest.mark.skipif(not serving.supported(), reason="SO_REUSEPORT balancing is Linux's")


def test_connections_opened_together_are_spread_over_every_worker(db_url: str) -> None:
    with running_server(db_url, workers=4) as server:
        connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(64)]
        try:
            deadline = time.monotonic() + 10
            while sum(accepted_connections(server).values()) < 64 and time.monotonic() < deadline:
                time.sleep(0.05)  # each worker accepts what the kernel queued for it
            held = accepted_connections(server)
        finally:
            for connection in connections:
                connection.close()

    # uvicorn's one shared socket gave 27, 5, 0 and 0 here; by the addresses' hash each of 4 sockets
    # gets none of 64 connections with a chance of 4 x (3/4)^64, about 4e-8
    assert len(held) == 4 and sum(held.values()) == 64
    assert min(held.values()) > 0, held


def test_a_worker_that_dies_is_replaced_and_the_server_keeps_answering(db_url: str) -> None:
    with running_server(db_url, workers=2) as server:
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = server.worker_pids()
            if len(workers) == 2 and victim not in workers:
                break
            time.sleep(0.1)
        assert len(workers) == 2 and victim not in workers
        answers = {httpx.get(server.base + "/healthz", timeout=10).status_code for _ in range(20)}
        assert answers == {200}


def test_sigterm_stops_every_worker(db_url: str) -> None:
    with running_server(db_url, workers=2) as server:
        workers = server.worker_pids()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(20) == 0

    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_port_already_taken_is_refused_at_once(db_url: str) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "couponry.cli", "serve", "--port", str(port), "--workers", "2"],
            env={**os.environ, "COUPONRY_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_a_second_server_on_the_same_port_is_refused_and_the_first_keeps_serving(db_url: str) -> None:
    with running_server(db_url, workers=2) as first:
        done = subprocess.run(
            [sys.executable, "-m", "couponry.cli", "serve", "--port", str(first.port), "--workers", "2"],
            env={**os.environ, "COUPONRY_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert done.returncode == 1
        assert "Address already in use" in done.stderr
        assert httpx.get(first.base + "/healthz", timeout=10).status_code == 200
