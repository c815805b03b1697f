"""The ledger's invariant under random histories: after every step (orders, refunds, ticks, exchanges,
adjustments) the cached balances equal the sums of the ledger, pending is never negative, and the
available balance goes below zero only by a refund of points already spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import ledger_sums
from couponry.adapters.db.tables import loyalty_accounts
from couponry.domain.errors import PointsRefused
from couponry.domain.loyalty import Balances
from couponry.services.access.actors import SYSTEM
from couponry.services.customers.customers import record_event
from couponry.services.loyalty import jobs, program, rewards
from tests.integration.checkout import T0, campaign

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(0, 50_000)),
        st.tuples(st.just("refund"), st.integers(0, 10), st.one_of(st.none(), st.integers(1, 60_000))),
        st.tuples(st.just("tick"), st.integers(1, 120)),
        st.tuples(st.just("exchange"), st.integers(0, 1)),
        st.tuples(st.just("adjust"), st.integers(-40, 40).filter(bool)),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def shop(db: Database) -> dict[str, Any]:
    program.put_program(db, SYSTEM, {"per_amount": 1000, "pending_days": 30, "expiry_days": 60}, T0)
    campaign_id = campaign(db)
    cheap = rewards.create_reward(db, SYSTEM, {"name": "r", "points": 7, "campaign_id": campaign_id}, T0)
    scarce = rewards.create_reward(
        db, SYSTEM, {"name": "s", "points": 3, "campaign_id": campaign_id, "stock": 2}, T0
    )
    return {"rewards": [cheap["id"], scarce["id"]], "count": 0}


def _cached(db: Database, customer_id: str) -> Balances:
    with db.read() as conn:
        row = conn.execute(
            select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer_id)
        ).one()
    return Balances(row.pending, row.available, row.lifetime)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_the_cached_balances_are_the_sums_of_the_ledger_after_every_step(
    db: Database, shop: dict[str, Any], steps: list[tuple[Any, ...]]
) -> None:
    shop["count"] += 1
    customer = f"prop{shop['count']}"
    program.join(db, SYSTEM, customer, T0)
    now, orders, refunded_ever = T0, [], False
    for step in steps:
        if step[0] == "order":
            order_id = f"{customer}-o{len(orders)}"
            event = {"type": "order.completed", "customer_id": customer, "order_id": order_id,
                     "amount": step[1], "occurred_at": now.isoformat()}  # fmt: skip
            record_event(db, SYSTEM, event, now)
            orders.append(order_id)
        elif step[0] == "refund" and orders:
            event = {
                "type": "order.refunded",
                "customer_id": customer,
                "order_id": orders[step[1] % len(orders)],
            }
            if step[2] is not None:
                event["amount"] = step[2]
            record_event(db, SYSTEM, event, now)
            refunded_ever = True
        elif step[0] == "tick":
            now += timedelta(days=step[1])
            jobs.mature_points(db, now, batch=2)
            jobs.expire_points(db, now)
        elif step[0] == "exchange":
            try:
                rewards.exchange(db, SYSTEM, shop["rewards"][step[1]], customer, now)
            except PointsRefused:
                pass
        elif step[0] == "adjust":
            try:
                program.adjust(db, SYSTEM, {"customer_id": customer, "points": step[1], "reason": "p"}, now)
            except PointsRefused:
                pass
        cached = _cached(db, customer)
        with db.read() as conn:
            assert cached == ledger_sums(conn, customer)
        view = program.points(db, SYSTEM, customer, datetime.now(UTC))
        assert (view["pending"], view["available"], view["lifetime"]) == (
            cached.pending,
            cached.available,
            cached.lifetime,
        )
        assert cached.pending >= 0
        assert cached.available >= 0 or refunded_ever
