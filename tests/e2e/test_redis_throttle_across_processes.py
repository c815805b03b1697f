"""With COUPONRY_REDIS_URL set, failed look-ups are counted across server processes."""

from __future__ import annotations

import httpx
import pytest
import redis

from tests.e2e.builders import unique
from tests.serving import create_key, running_server

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.mark.slow
def test_unknown_codes_from_one_key_are_refused_whichever_process_answers(db_url: str) -> None:
    # given two server processes sharing Redis, blocking a key after 6 unknown codes a minute
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        pytest.fail("Redis is expected at 127.0.0.1:6379 (scripts/test.sh starts it)")
    settings = {
        "COUPONRY_REDIS_URL": REDIS_URL,
        "COUPONRY_THROTTLE_SLOW_AFTER": "3",
        "COUPONRY_THROTTLE_BLOCK_AFTER": "6",
        "COUPONRY_THROTTLE_WINDOW_SECONDS": "3600",
    }
    with running_server(db_url, workers=2, **settings) as server:
        key = create_key(db_url, "pos")
        # when fresh connections (spread over both processes) guess codes
        statuses = []
        for _ in range(12):
            with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {key}"}) as client:
                statuses.append(client.get(f"/v1/coupons/{unique('GUESS')}").status_code)
    # then the seventh guess onwards is refused, though each process saw only some of the guesses
    assert statuses == [404] * 6 + [429] * 6
