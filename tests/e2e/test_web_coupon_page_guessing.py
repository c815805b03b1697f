"""Guessing coupon pages: unknown codes from one client address are counted with the API's throttle
(E2E settings: refused from the 6th failure on), so the public page cannot be used to find codes."""

from __future__ import annotations

import httpx

from tests.e2e.builders import campaign, unique
from tests.serving import Server


def test_a_client_that_keeps_guessing_codes_is_refused_even_a_real_one(
    server: Server, admin: httpx.Client
) -> None:
    # given
    created = campaign(admin)
    real = unique("REAL")
    admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [real]})
    with httpx.Client(base_url=server.base) as guesser:
        assert guesser.get(f"/c/{real}").status_code == 200  # a known code costs nothing
        # when
        answers = [guesser.get(f"/c/{unique('GUESS')}").status_code for _ in range(8)]
        # then
        assert answers[:6] == [404] * 6 and answers[6:] == [429, 429]
        assert guesser.get(f"/c/{real}").status_code == 429
