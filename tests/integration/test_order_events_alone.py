"""A completed order recorded alone (PostgreSQL, on the event loop, one statement in autocommit) only
when nothing follows it in a transaction; otherwise it writes nothing and says so, and `record_event`
then runs it in a transaction. Each case compares the database before and after the refused try."""

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
from couponry.adapters.db.tables import customers, events, points_ledger, referral_rewards
from couponry.services.access.actors import SYSTEM
from couponry.services.customers.customers import put_customer, record_event, record_order_alone
from couponry.services.distribution import referrals, triggers
from couponry.services.loyalty import program
from couponry.services.messaging.webhooks import create_webhook
from tests.integration.checkout import T0, campaign

pytestmark = pytest.mark.skipif(
    not os.environ.get("COUPONRY_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the async driver is PostgreSQL's; this runs in the PostgreSQL pass",
)


def _order(customer: str, order: str, amount: int = 1000) -> dict[str, Any]:
    return {"type": "order.completed", "customer_id": customer, "order_id": order, "amount": amount}


@pytest.fixture
def alone(db: Database) -> Iterator[Any]:
    """`alone(event)`: record_order_alone's answer, on a loop of its own."""
    subscriptions.forget()

    def run(event: dict[str, Any]) -> dict[str, Any] | None:
        async def go() -> dict[str, Any] | None:
            reads = LoopReads(db.url, 1)
            await reads.open()
            try:
                return await record_order_alone(reads, db, SYSTEM, event, T0)
            finally:
                await reads.close()

        return asyncio.run(go())

    yield run
    subscriptions.forget()


def _state(db: Database) -> tuple[int, ...]:
    with db.read() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (events, customers, points_ledger, referral_rewards)
        ) + (conn.execute(select(func.coalesce(func.sum(customers.c.order_count), 0))).scalar_one(),)


def _member_program(db: Database, customer: str) -> None:
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    program.join(db, SYSTEM, customer, T0)


def test_an_order_goes_alone_once_the_process_knows_the_program_and_earns_the_same(
    db: Database, alone: Any
) -> None:
    _member_program(db, "c1")
    before = _state(db)
    assert alone(_order("c1", "o1")) is None  # the program is not known in this process yet
    assert _state(db) == before
    record_event(db, SYSTEM, _order("c1", "o1"), T0)  # in a transaction: reads the program

    assert alone(_order("c1", "o2")) == {
        "accepted": True,
        "duplicate": False,
        "type": "order.completed",
        "ref": "o2",
    }
    assert alone(_order("c1", "o2"))["duplicate"] is True  # type: ignore[index]
    assert program.points(db, SYSTEM, "c1", T0)["pending"] == 20
    with db.read() as conn:
        row = conn.execute(
            select(customers.c.order_count, customers.c.total_spent).where(customers.c.id == "c1")
        )
        assert tuple(row.one()) == (2, 2000)


def test_a_live_order_trigger_leaves_the_order_to_a_transaction(db: Database, alone: Any) -> None:
    _member_program(db, "c1")
    record_event(db, SYSTEM, _order("c1", "o1"), T0)
    triggers.create_trigger(
        db, SYSTEM, {"event": "order.completed", "campaign_ids": [campaign(db)], "per_customer": 1}, T0
    )
    before = _state(db)

    assert alone(_order("c1", "o2")) is None
    assert _state(db) == before


def test_a_referred_customers_first_order_is_left_to_a_transaction_that_rewards_the_inviter(
    db: Database, alone: Any
) -> None:
    _member_program(db, "friend")
    record_event(db, SYSTEM, _order("someone", "o0"), T0)  # the program is known in this process
    referrals.put_program(db, SYSTEM, {"reward_on": "first_order", "inviter_points": 50}, T0)
    _, inviter = put_customer(db, SYSTEM, "inviter", {}, T0)
    put_customer(db, SYSTEM, "friend", {"referred_by": inviter["referral_code"]}, T0)
    before = _state(db)

    assert alone(_order("friend", "o1")) is None
    assert _state(db) == before
    record_event(db, SYSTEM, _order("friend", "o1"), T0)
    with db.read() as conn:
        assert conn.execute(select(referral_rewards.c.inviter_id)).scalars().all() == ["inviter"]
    assert alone(_order("friend", "o2")) is not None  # a second order rewards nobody: alone


def test_a_webhook_on_points_changed_leaves_orders_to_a_transaction(db: Database, alone: Any) -> None:
    _member_program(db, "c1")
    record_event(db, SYSTEM, _order("c1", "o1"), T0)
    create_webhook(db, SYSTEM, "https://shop.example/hooks", ["points.changed"], T0)
    record_event(db, SYSTEM, _order("c1", "o2"), T0)  # reads the subscriptions again
    before = _state(db)

    assert alone(_order("c1", "o3")) is None
    assert _state(db) == before
