"""The CLI as a user runs it: the demo server, keys, migrations, and the public contract's smoke walk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.serving import cli, free_port

SMOKE = Path(__file__).resolve().parents[3] / "shared" / "contract" / "smoke.py"


def test_keys_create_prints_the_key_last_and_refuses_a_store_key_without_a_store(db_url: str) -> None:
    out = cli(db_url, "keys", "create", "--role", "pos", "--name", "till 1")
    assert out.strip().splitlines()[-1].startswith("cpn_")
    with pytest.raises(RuntimeError, match="store"):
        cli(db_url, "keys", "create", "--role", "store")


def test_migrate_is_safe_to_run_twice(db_url: str) -> None:
    assert "migrated" in cli(db_url, "migrate")
    assert "migrated" in cli(db_url, "migrate")


@contextmanager
def demo_server(tmp_path: Path, db_url: str) -> Iterator[tuple[str, str, list[str]]]:
    """`couponry serve --demo` on this test's database: (base URL, the admin key it printed, every
    line it printed up to the key), once it answers /healthz."""
    port = free_port()
    env = {**os.environ, "COUPONRY_DATABASE_URL": db_url, "COUPONRY_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "couponry.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while not (lines and "cpn_" in lines[-1]):
            line = process.stdout.readline()
            assert line, "serve --demo ended without printing a key"
            lines.append(line.strip())
        key = next(word for word in lines[-1].split() if word.startswith("cpn_"))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo server did not answer /healthz within 30 s"
            time.sleep(0.1)
        yield base, key, lines
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout:
            process.stdout.close()


def test_serve_demo_prints_an_admin_key_and_serves_the_demo_codes(tmp_path: Path, db_url: str) -> None:
    # given a demo server on this test's database
    with demo_server(tmp_path, db_url) as (base, key, printed):
        # when its admin key is used
        auth = {"Authorization": f"Bearer {key}"}
        demo_code = httpx.get(base + "/v1/coupons/WELCOME10", headers=auth)
        listed = httpx.get(base + "/v1/campaigns", headers=auth)
    # then the key is an admin's and the demo codes it printed exist
    assert any("WELCOME10" in line for line in printed)
    assert demo_code.status_code == 200 and demo_code.json()["code"] == "WELCOME10"
    assert listed.status_code == 200


def test_the_public_contract_smoke_walk_passes_against_the_demo_server(tmp_path: Path, db_url: str) -> None:
    # given the public contract's smoke walk, which lives beside the checkout (../shared), not in it
    if not SMOKE.exists():
        pytest.skip(f"the public contract smoke walk is not beside this checkout ({SMOKE})")
    with demo_server(tmp_path, db_url) as (base, key, _):
        # when it walks the main path against the demo server
        smoke = subprocess.run(
            [sys.executable, str(SMOKE), "--base", base, "--key", key],
            capture_output=True,
            text=True,
            timeout=120,
        )
    # then every step passes
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "all steps pass" in smoke.stdout


def test_a_revoked_key_is_refused_and_listed_as_revoked(db_url: str) -> None:
    # given a running server and a pos key it has just used
    from tests.serving import create_key, running_server

    with running_server(db_url) as server:
        key = create_key(db_url, "pos")
        with server.client(key) as pos:
            assert pos.get("/v1/coupons/NOSUCHCODE").status_code == 404
            key_id = next(
                line.split()[0] for line in cli(db_url, "keys", "list").splitlines() if " pos " in line
            )
            # when it is revoked
            assert f"revoked {key_id}" in cli(db_url, "keys", "revoke", key_id)
            # then it is refused within a second (the server's cache of resolved keys notices it)
            deadline = time.monotonic() + 1
            while (
                status := pos.get("/v1/coupons/NOSUCHCODE").status_code
            ) != 401 and time.monotonic() < deadline:
                time.sleep(0.05)
    assert status == 401
    assert "revoked" in next(
        line for line in cli(db_url, "keys", "list").splitlines() if line.startswith(key_id)
    )
    with pytest.raises(RuntimeError, match="no API key"):
        cli(db_url, "keys", "revoke", "nope")


def test_users_create_prints_a_generated_password_last_or_reads_one_from_stdin(db_url: str) -> None:
    from couponry.adapters.db.engine import Database
    from couponry.services.access.users import check_password

    made = cli(db_url, "users", "create", "--email", "ops@example.com", "--role", "admin")
    password = made.strip().splitlines()[-1]
    assert len(password) >= 16 and "ops@example.com" in made
    env = {**os.environ, "COUPONRY_DATABASE_URL": db_url}
    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "couponry.cli",
            "users",
            "create",
            "--email",
            "till@example.com",
            "--role",
            "pos",
            "--password-stdin",
        ],
        input="my chosen password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0 and "my chosen password" not in piped.stdout
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "couponry.cli",
            "users",
            "create",
            "--email",
            "s@example.com",
            "--role",
            "store",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "store id" in refused.stderr
    db = Database(db_url)
    try:
        assert check_password(db, "ops@example.com", password) is not None
        assert check_password(db, "till@example.com", "my chosen password") is not None
    finally:
        db.dispose()
    assert "till@example.com  pos" in cli(db_url, "users", "list")
