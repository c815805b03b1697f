"""Running the real server and CLI for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from couponry.devserver import Server, free_port, running_server

__all__ = ["Server", "accepted_connections", "cli", "create_key", "free_port", "running_server"]


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


def accepted_connections(server: Server) -> dict[int, int]:
    """How many established connections to the server's port each of its worker processes holds."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == server.port and fields[3] == "01":
            established.add(fields[9])  # the socket's inode
    counts = {}
    for pid in server.worker_pids():
        fds = Path(f"/proc/{pid}/fd")
        inodes = {os.readlink(fd).removeprefix("socket:[").removesuffix("]") for fd in fds.iterdir()}
        counts[pid] = len(inodes & established)
    return counts
