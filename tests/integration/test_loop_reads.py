"""The validation's read on PostgreSQL's async driver (adapters.db.loop_reads) reads what the blocking
read reads, and declines whatever would need a second query, so that the blocking read runs instead."""

from __future__ import annotations

import asyncio
import os

import pytest

from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.db.snapshots import Loaded
from couponry.services.access.actors import SYSTEM
from couponry.services.checkout.validations import read_coupons, read_coupons_on_loop
from couponry.services.customers.customers import put_customer
from couponry.services.distribution.segments import create_segment
from tests.integration.checkout import T0, campaign, issue

pytestmark = pytest.mark.skipif(
    not os.environ.get("COUPONRY_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the async driver is PostgreSQL's; this runs in the PostgreSQL pass",
)


def on_loop(db: Database, codes: list[str], customer_id: str | None) -> Loaded | None:
    async def read() -> Loaded | None:
        reads = LoopReads(db.url, 2)
        await reads.open()
        try:
            return await read_coupons_on_loop(reads, SYSTEM, codes, customer_id)
        finally:
            await reads.close()

    return asyncio.run(read())


def test_the_read_on_the_loop_reads_what_the_blocking_read_reads(db: Database) -> None:
    issue(db, campaign(db), "LOOP-A")
    issue(db, campaign(db, discount={"type": "percent", "percent": 10}, max_redemptions=5), "LOOP-B")
    put_customer(db, SYSTEM, "loop-customer", {"tags": ["vip"]}, T0)
    codes = ["loop-a", "LOOP-B", "NO-SUCH-CODE", "loop-a"]

    for customer_id in (None, "loop-customer", "a-guest-with-an-id"):
        blocking = read_coupons(db, SYSTEM, codes, customer_id)  # also puts the rules in the cache
        assert on_loop(db, codes, customer_id) == blocking


def test_rules_not_yet_in_this_process_are_left_to_the_blocking_read(db: Database) -> None:
    issue(db, campaign(db, discount={"type": "amount", "amount": 321}), "LOOP-FRESH")

    assert on_loop(db, ["LOOP-FRESH"], None) is None
    read_coupons(db, SYSTEM, ["LOOP-FRESH"], None)
    assert on_loop(db, ["LOOP-FRESH"], None) is not None


def test_segments_ab_arms_and_a_customer_without_a_known_code_are_left_to_the_blocking_read(
    db: Database,
) -> None:
    segment = create_segment(
        db, SYSTEM, {"name": "vips", "rules": [{"field": "tags", "op": "contains", "value": "vip"}]}, T0
    )
    issue(db, campaign(db, extra={"conditions": {"segment_id": segment["id"]}}), "LOOP-SEGMENT")
    variants = [
        {"name": "a", "discount": {"type": "amount", "amount": 100}, "weight": 1},
        {"name": "b", "discount": {"type": "amount", "amount": 200}, "weight": 1},
    ]
    issue(db, campaign(db, extra={"variants": variants}), "LOOP-AB")
    for code in ("LOOP-SEGMENT", "LOOP-AB"):
        read_coupons(db, SYSTEM, [code], "someone")  # the rules are cached: only the extra query is left

        assert on_loop(db, [code], "someone") is None  # it would need the membership or the arm
        assert on_loop(db, [code], None) == read_coupons(db, SYSTEM, [code], None)

    assert on_loop(db, ["NO-SUCH-CODE"], "someone") is None  # the profile needs its own query
    assert on_loop(db, ["NO-SUCH-CODE"], None) == read_coupons(db, SYSTEM, ["NO-SUCH-CODE"], None)


def test_the_campaigns_counters_are_read_as_integers_on_either_way(db: Database) -> None:
    """A sum of bigints is a numeric in PostgreSQL, which the driver reads as a Decimal: money stays int."""
    issue(db, campaign(db, discount={"type": "amount", "amount": 300}, budget=10_000), "LOOP-INTS")
    blocking = read_coupons(db, SYSTEM, ["LOOP-INTS"], None)
    loop = on_loop(db, ["LOOP-INTS"], None)
    assert loop is not None
    for snapshots, _ in (blocking, loop):
        (coupon,) = snapshots
        counters = (coupon.campaign_redemptions, coupon.campaign_budget_used, coupon.coupon_redemptions)
        assert [type(c) for c in counters] == [int, int, int]
