"""A redemption recorded alone (PostgreSQL, on the event loop: one read and one statement in autocommit)
writes what a redemption in a transaction writes, and writes nothing at all when its guard takes no unit
or its order already redeemed the code: `redeem` then decides, as it did before. The limits under
concurrency are proven over HTTP (tests/e2e/test_concurrency.py), where the common case takes this way."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from couponry.adapters.db import subscriptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.db.snapshots import SnapshotRead
from couponry.adapters.db.tables import customer_usage, redemption_codes, redemption_lines, redemptions
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import SYSTEM
from couponry.services.checkout import redemptions as service
from couponry.services.checkout.validations import read_coupons
from couponry.services.messaging.webhooks import create_webhook
from tests.integration.checkout import (
    T0,
    campaign,
    issue,
    read_as_now,
    redeem,
    redeemed_count,
    request,
    stats,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("COUPONRY_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the async driver is PostgreSQL's; this runs in the PostgreSQL pass",
)


@pytest.fixture
def alone(db: Database) -> Iterator[Any]:
    """`alone(order, code)`: redeem_alone's answer, on a loop of its own, with the process's caches
    (subscriptions, campaign rules) warm as after its first requests."""
    subscriptions.forget()
    with db.read() as conn:
        subscriptions.subscribed_types(conn)

    def run(order: str, code: str = "CODE", customer: str | None = None) -> dict[str, Any] | None:
        read_coupons(db, SYSTEM, [code], None)  # the rules in this process's cache
        req = request(order, codes=(code,), customer=customer)

        async def go() -> dict[str, Any] | None:
            reads = LoopReads(db.url, 1)
            await reads.open()
            try:
                return await service.redeem_alone(reads, db, SYSTEM, req, T0)
            finally:
                await reads.close()

        return asyncio.run(go())

    yield run
    subscriptions.forget()


def _written(db: Database) -> tuple[int, int, int]:
    with db.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (redemptions, redemption_codes, redemption_lines)
        )


def test_a_redemption_alone_writes_what_a_transaction_writes(db: Database, alone: Any) -> None:
    campaign_id = campaign(db, max_redemptions=10, budget=100_000)
    issue(db, campaign_id, "CODE")
    body = alone("o1")
    assert body is not None and body["discount"] == 500 and body["status"] == "succeeded"
    stored = service.get_redemption(db, SYSTEM, body["id"])
    assert {k: stored[k] for k in body} == body
    redeem(db, "o2")  # the same code through a transaction, for comparison
    assert _written(db) == (2, 2, 2)
    assert stats(db, campaign_id)[:2] == (2, 1000)  # both counted on the campaign's limit and budget
    assert redeemed_count(db, "CODE") == 2


def test_a_coupon_used_up_after_the_read_is_refused_by_the_guard_with_nothing_written(
    db: Database, alone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(db, campaign(db, per_coupon=1), "CODE")
    stale = read_as_now(db, ["CODE"], None)  # read before the coupon's one use was taken
    assert alone("o1") is not None
    monkeypatch.setattr(SnapshotRead, "finish_without_reading", lambda self, rows: stale)
    before = _written(db)

    assert alone("o2") is None  # priced as usable; the statement's guard took nothing
    assert _written(db) == before and redeemed_count(db, "CODE") == 1
    monkeypatch.undo()
    with pytest.raises(RedemptionRefused) as refused:
        service.redeem(db, SYSTEM, request("o2"), T0)
    assert refused.value.extra["codes"][0]["reason"] == "coupon_used_up"


def test_an_order_that_redeemed_the_code_is_left_to_the_transaction_with_nothing_written(
    db: Database, alone: Any
) -> None:
    issue(db, campaign(db), "CODE")
    assert alone("o1") is not None
    before = _written(db)

    assert alone("o1") is None
    assert _written(db) == before


def test_a_refused_code_is_refused_alone_as_in_a_transaction(db: Database, alone: Any) -> None:
    issue(db, campaign(db, extra={"validity": {"ends_at": "2020-01-01T00:00:00Z"}}), "CODE")
    with pytest.raises(RedemptionRefused) as refused:
        alone("o1")
    assert refused.value.extra["codes"][0]["reason"] == "expired"
    assert _written(db) == (0, 0, 0)


def test_a_webhook_on_coupon_redeemed_leaves_redemptions_to_the_transaction(db: Database, alone: Any) -> None:
    issue(db, campaign(db), "CODE")
    create_webhook(db, SYSTEM, "https://shop.example/hooks", ["coupon.redeemed"], T0)
    with db.read() as conn:
        subscriptions.subscribed_types(conn)  # as the next request in this process would read them

    assert alone("o1") is None
    assert _written(db) == (0, 0, 0)


def _customer_uses(db: Database, campaign_id: str, customer: str) -> int:
    with db.read() as conn:
        used = conn.execute(
            select(customer_usage.c.redeemed_count).where(
                customer_usage.c.campaign_id == campaign_id, customer_usage.c.customer_id == customer
            )
        ).scalar_one_or_none()
    return used or 0


def test_a_customers_redemption_alone_counts_their_use_as_a_transaction_does(
    db: Database, alone: Any
) -> None:
    campaign_id = campaign(db, per_customer=5, max_redemptions=10)
    issue(db, campaign_id, "CODE")
    body = alone("o1", customer="ann")
    assert body is not None and body["customer_id"] == "ann"
    assert {k: service.get_redemption(db, SYSTEM, body["id"])[k] for k in body} == body
    assert _customer_uses(db, campaign_id, "ann") == 1
    redeem(db, "o2", customer="ann")  # the same through a transaction
    assert _customer_uses(db, campaign_id, "ann") == 2
    assert stats(db, campaign_id)[0] == 2 and _written(db) == (2, 2, 2)


def test_a_customer_at_their_limit_after_the_read_is_refused_by_the_guard_with_nothing_written(
    db: Database, alone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = campaign(db, per_customer=1)  # no campaign-wide limit: only the customer's counts
    issue(db, campaign_id, "CODE")
    stale = read_as_now(db, ["CODE"], "ann")  # read before ann's one use was taken
    assert alone("o1", customer="ann") is not None
    monkeypatch.setattr(SnapshotRead, "finish_without_reading", lambda self, rows: stale)
    before = _written(db), stats(db, campaign_id), redeemed_count(db, "CODE")

    assert alone("o2", customer="ann") is None  # priced as usable; the customer's guard took nothing
    assert (_written(db), stats(db, campaign_id), redeemed_count(db, "CODE")) == before
    assert _customer_uses(db, campaign_id, "ann") == 1
    monkeypatch.undo()
    with pytest.raises(RedemptionRefused) as refused:
        service.redeem(db, SYSTEM, request("o2", customer="ann"), T0)
    assert refused.value.extra["codes"][0]["reason"] == "customer_limit_reached"
    assert alone("o3", customer="bob") is not None  # another customer's limit is their own
    assert _customer_uses(db, campaign_id, "bob") == 1


def test_a_campaign_used_up_takes_no_customer_use_either(
    db: Database, alone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = campaign(db, per_customer=3, max_redemptions=1)
    issue(db, campaign_id, "CODE")
    stale = read_as_now(db, ["CODE"], "ann")
    # (a limit of 1 sits on one of the campaign's slots: alone, a random slot would mostly find none)
    redeem(db, "o1", customer="ann")
    monkeypatch.setattr(SnapshotRead, "finish_without_reading", lambda self, rows: stale)

    assert alone("o2", customer="ann") is None  # the campaign's guard took nothing
    assert _customer_uses(db, campaign_id, "ann") == 1 and stats(db, campaign_id)[0] == 1
