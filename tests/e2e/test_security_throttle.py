"""The code-guessing throttle cannot be outrun by a burst nor turned against other keys (issue #10, item 4).

The attacks: 100 concurrent requests from a key primed with 29 failures got 820 guesses through a
limit of 30 (check, then record); and a storefront key's slowed requests slept on the shared thread
pool, pushing an admin's validation to 4.5 s and /healthz to 3.8 s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.e2e.builders import cart, unique
from tests.e2e.keys import make_key
from tests.serving import Server, running_server

REDIS_URL = "redis://127.0.0.1:6379/12"
LIMITS = {
    "COUPONRY_THROTTLE_SLOW_AFTER": "10",  # slowed by 0.1 s a failure past 10, refused at 30
    "COUPONRY_THROTTLE_BLOCK_AFTER": "30",
    "COUPONRY_THROTTLE_WINDOW_SECONDS": "3600",  # a window edge inside a test would reset its count
}


@pytest.fixture(scope="module", params=["memory", "redis"])
def server(request: pytest.FixtureRequest, module_db_url: str) -> Iterator[Server]:
    """One process counting in memory; two processes sharing their counts in Redis."""
    if request.param == "memory":
        with running_server(module_db_url, **LIMITS) as srv:
            yield srv
        return
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is expected at 127.0.0.1:6379 (scripts/test.sh starts it): {exc}")
    with running_server(module_db_url, workers=2, COUPONRY_REDIS_URL=REDIS_URL, **LIMITS) as srv:
        yield srv


def validation(n_codes: int) -> dict[str, Any]:
    return {"cart": cart(), "codes": [unique("GUESS") for _ in range(n_codes)]}


def guesses_through(responses: list[httpx.Response]) -> int:
    """Unknown codes the server answered for (each one a guess the attacker got to make)."""
    return sum(
        c["reason"] == "unknown_code" for r in responses if r.status_code == 200 for c in r.json()["codes"]
    )


async def burst(server: Server, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=server.base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        limits=httpx.Limits(max_connections=len(bodies)),
    ) as client:
        return await asyncio.gather(*(client.post("/v1/validations", json=body) for body in bodies))


def prime(server: Server, key: str, failures: int) -> None:
    """Spend `failures` unknown codes from `key` in as few requests as the limit allows."""
    with server.client(key) as client:
        while failures:
            n = min(20, failures)
            response = client.post("/v1/validations", json=validation(n))
            assert response.status_code == 200, response.text
            failures -= n


def test_a_burst_from_a_key_one_guess_below_the_limit_gets_one_guess_through(server: Server) -> None:
    # given: a storefront key with 29 failed look-ups of the 30 allowed
    key = make_key(server.database_url, "storefront")
    prime(server, key, 29)

    # when: it sends 100 guesses at once
    responses = asyncio.run(burst(server, key, [validation(1) for _ in range(100)]))

    # then: one was answered, the rest refused with Retry-After
    assert guesses_through(responses) == 1
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 99
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)


def test_a_request_whose_codes_would_pass_the_limit_is_refused_whole(server: Server) -> None:
    key = make_key(server.database_url, "pos")
    prime(server, key, 15)

    with server.client(key) as client:
        too_many = client.post("/v1/validations", json=validation(16))
        just_enough = client.post("/v1/validations", json=validation(15))
        over = client.post("/v1/validations", json=validation(1))

    assert too_many.status_code == 429
    assert just_enough.status_code == 200
    assert over.status_code == 429


def test_known_codes_do_not_count_against_the_limit(server: Server, admin_key: str) -> None:
    # given: a real code, and a key 20 failures below the limit
    with server.client(admin_key) as admin:
        created = admin.post(
            "/v1/campaigns",
            json={"name": "known", "currency": "USD", "discount": {"type": "amount", "amount": 100}},
        ).json()
        code = unique("KNOWN")
        assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    key = make_key(server.database_url, "pos")
    prime(server, key, 10)

    # when: it looks the real code up 25 times
    with server.client(key) as client:
        answers = [client.post("/v1/validations", json={"cart": cart(), "codes": [code]}) for _ in range(25)]
        twenty_guesses = client.post("/v1/validations", json=validation(20))

    # then: its twenty remaining guesses are intact
    assert {a.status_code for a in answers} == {200}
    assert all(a.json()["valid"] for a in answers)
    assert twenty_guesses.status_code == 200


def test_an_admins_validation_and_health_stay_fast_while_a_storefront_key_floods(
    server: Server, admin_key: str
) -> None:
    # given: a storefront key slowed by 1.9 s a request (29 failures, slowed past 10): 80 such requests
    # would hold the 40 threads of the pool for 3.8 s if the slow-down slept on them
    key = make_key(server.database_url, "storefront")
    prime(server, key, 29)
    flood: list[httpx.Response] = []
    flooder = threading.Thread(
        target=lambda: flood.extend(asyncio.run(burst(server, key, [validation(1) for _ in range(80)])))
    )

    # when: it floods with 80 concurrent requests, and all the while an admin validates and asks /healthz
    flooder.start()
    timings: dict[str, list[float]] = {"admin": [], "healthz": []}
    with server.client(admin_key) as admin:
        while flooder.is_alive() or not timings["admin"]:
            started = time.monotonic()
            assert admin.post("/v1/validations", json=validation(1)).status_code == 200
            timings["admin"].append(time.monotonic() - started)
            started = time.monotonic()
            assert admin.get("/healthz").status_code == 200
            timings["healthz"].append(time.monotonic() - started)
    flooder.join()

    # then: neither waited for the flood, which got no more than its one remaining guess
    assert max(timings["admin"]) < 1.5, timings
    assert max(timings["healthz"]) < 1.5, timings
    assert guesses_through(flood) == 1


def test_an_admin_key_is_not_throttled(server: Server, admin_key: str) -> None:
    with server.client(admin_key) as admin:
        answers = [admin.post("/v1/validations", json=validation(20)) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
