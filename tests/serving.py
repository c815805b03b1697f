"""Running the real server and CLI for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys

from couponry.devserver import Server, free_port, running_server

__all__ = ["Server", "cli", "create_key", "free_port", "running_server"]


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
