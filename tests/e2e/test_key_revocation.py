"""A revoked key is refused within a second by every server process, including those that have it cached."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.serving import accepted_connections, cli, create_key, running_server

BURST, MAX_BURSTS = 8, 25  # kept-alive connections opened at once, each bound to the process that accepted it


def test_a_revoked_key_is_refused_within_a_second_by_every_server_process(db_url: str) -> None:
    # given two server processes that have both just served the key on several connections
    key = create_key(db_url, "pos")
    key_id = next(line.split()[0] for line in cli(db_url, "keys", "list").splitlines() if " pos " in line)
    # (the test looks the same unknown code up many times: no throttling of unknown codes here)
    no_throttle = {"COUPONRY_THROTTLE_SLOW_AFTER": "1000000", "COUPONRY_THROTTLE_BLOCK_AFTER": "1000000"}
    with running_server(db_url, workers=2, **no_throttle) as server:
        clients: list[httpx.Client] = []
        try:
            # (the kernel may hand a burst of connections all to one process: open bursts until both
            # processes hold some, so that each has the key in its cache)
            for _ in range(MAX_BURSTS):
                burst = [server.client(key, limits=httpx.Limits(max_connections=1)) for _ in range(BURST)]
                clients += burst
                with ThreadPoolExecutor(BURST) as pool:
                    warm = set(pool.map(lambda c: c.get("/v1/coupons/NOSUCHCODE").status_code, burst))
                assert warm == {404}
                serving = accepted_connections(server)
                if len(serving) == 2 and min(serving.values()) > 0:
                    break
            assert len(serving) == 2 and min(serving.values()) > 0, serving
            # when the key is revoked
            cli(db_url, "keys", "revoke", key_id)
            revoked = time.monotonic()
            # then no request sent a second or more after the revocation is served, on any connection
            last_served = 0.0
            for client in clients:
                while True:
                    sent = time.monotonic() - revoked
                    if client.get("/v1/coupons/NOSUCHCODE").status_code == 401:
                        break
                    last_served = max(last_served, sent)
                    assert sent < 1.0, f"the revoked key still works {sent:.2f} s after its revocation"
                    time.sleep(0.02)
            time.sleep(0.6)
            assert {c.get("/v1/coupons/NOSUCHCODE").status_code for c in clients} == {401}
        finally:
            for client in clients:
                client.close()
    assert last_served < 1.0
