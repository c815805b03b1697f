"""Limits hold with several server processes on the suite's database of this pass: SQLite as well
(where BEGIN IMMEDIATE serializes the writers of every process), not only PostgreSQL."""

from __future__ import annotations

import pytest

from tests.e2e.concurrency_helpers import (
    Ledger,
    concurrently,
    create_campaign,
    issue_code,
    ledger,
    redeem,
    refusal_reasons,
    statuses,
    unique,
)
from tests.serving import create_key, running_server


@pytest.mark.slow
def test_200_concurrent_redemptions_from_4_processes_of_a_code_limited_to_50_redeem_exactly_50(
    db_url: str,
) -> None:
    with running_server(db_url, workers=4, COUPONRY_DB_POOL_SIZE="5") as server:
        key = create_key(db_url)
        with server.client(key) as admin:
            # given an open code usable 50 times, and one usable once per customer
            campaign = create_campaign(admin, amount=100, max_redemptions=50)
            code = issue_code(admin, campaign["id"])
            per_customer = issue_code(admin, create_campaign(admin, amount=100, per_customer=2)["id"])
            # when 32 threads send 200 redemptions of each
            answers = concurrently(server, key, [redeem(unique(f"o{i}-"), code) for i in range(200)], 32)
            customer = unique("c-")
            mine = concurrently(
                server, key, [redeem(unique(f"p{i}-"), per_customer, customer) for i in range(60)], 32
            )
    # then
    assert statuses(answers) == {201: 50, 409: 150}
    assert refusal_reasons(answers) == {("redemption_refused", "usage_limit_reached"): 150}
    assert ledger(db_url, code) == Ledger(
        succeeded=50, coupon_redeemed=50, campaign_redeemed=50, budget_used=5000
    )
    assert statuses(mine) == {201: 2, 409: 58}
