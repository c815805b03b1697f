"""The CLI as a user runs it: the demo server, keys, migrations, and the public contract's smoke walk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_serve_demo_prints_an_admin_key_and_passes_the_contract_smoke_walk(
    tmp_path: Path, db_url: str
) -> None:
    # given a demo server on this test's database
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
        lines = []
        assert process.stdout is not None
        while not (lines and "cpn_" in lines[-1]):
            line = process.stdout.readline()
            assert line, "serve --demo ended without printing a key"
            lines.append(line.strip())
        key = next(word for word in lines[-1].split() if word.startswith("cpn_"))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        # when
        demo_codes = httpx.get(base + "/v1/coupons/WELCOME10", headers={"Authorization": f"Bearer {key}"})
        if not SMOKE.exists():
            pytest.skip(f"the public contract smoke test is not beside the checkout ({SMOKE})")
        smoke = subprocess.run(
            [sys.executable, str(SMOKE), "--base", base, "--key", key],
            capture_output=True,
            text=True,
            timeout=120,
        )
        # then
        assert demo_codes.status_code == 200
        assert any("WELCOME10" in line for line in lines)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert "all steps pass" in smoke.stdout
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout:
            process.stdout.close()


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
