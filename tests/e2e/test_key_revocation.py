"""A revoked key is refused within a second by every server process, including those that have it cached."""

from __future__ import annotations

import time

import httpx

from tests.serving import cli, create_key, running_server

CONNECTIONS = 16  # kept-alive connections, spread over the server's processes as they were accepted


def test_a_revoked_key_is_refused_within_a_second_by_every_server_process(db_url: str) -> None:
    # given two server processes that have both just served the key on several connections
    key = create_key(db_url, "pos")
    key_id = next(line.split()[0] for line in cli(db_url, "keys", "list").splitlines() if " pos " in line)
    with running_server(db_url, workers=2) as server:
        clients = [server.client(key, limits=httpx.Limits(max_connections=1)) for _ in range(CONNECTIONS)]
        try:
            assert {c.get("/v1/coupons/NOSUCHCODE").status_code for c in clients} == {404}
            # when the key is revoked
            cli(db_url, "keys", "revoke", key_id)
            revoked = time.monotonic()
            # then every connection is refused within a second, and stays refused
            refused_after: list[float] = []
            for client in clients:
                while client.get("/v1/coupons/NOSUCHCODE").status_code != 401:
                    assert time.monotonic() - revoked < 1.0, "the revoked key still works after a second"
                    time.sleep(0.02)
                refused_after.append(time.monotonic() - revoked)
            time.sleep(0.6)
            assert {c.get("/v1/coupons/NOSUCHCODE").status_code for c in clients} == {401}
        finally:
            for client in clients:
                client.close()
    assert max(refused_after) < 1.0
