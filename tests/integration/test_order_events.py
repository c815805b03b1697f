"""A completed order's event at the service level, on both databases: the customer's counters, the
points earned under the program as it is now (whichever process changed it), and a redelivery that
changes nothing. On PostgreSQL these writes are one statement (adapters/db/order_events), which
computes the points from the program a process last read: these tests guard that shortcut."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import ledger_sums
from couponry.adapters.db.tables import events, points_ledger, points_lots
from couponry.services.access.actors import SYSTEM
from couponry.services.customers.customers import get_customer, record_event
from couponry.services.loyalty import program
from tests.integration.checkout import T0


def _order(customer: str, order: str, amount: int, **more: Any) -> dict[str, Any]:
    return {"type": "order.completed", "customer_id": customer, "order_id": order, "amount": amount, **more}


def _pending(db: Database, customer: str) -> int:
    return program.points(db, SYSTEM, customer, T0)["pending"]


def test_an_order_earns_under_the_program_another_process_just_changed(db: Database) -> None:
    # given two server processes (each its own Database, so its own memory of the program)
    other = Database(db.url, pool_size=2)
    try:
        program.put_program(other, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
        program.join(db, SYSTEM, "c1", T0)
        record_event(db, SYSTEM, _order("c1", "o1", 1000), T0)  # this process reads the program: 10
        # when the other process doubles the earn rate and this one takes the next order
        program.put_program(other, SYSTEM, {"earn_points": 2, "per_amount": 100}, T0)
        record_event(db, SYSTEM, _order("c1", "o2", 1000), T0)
        # and once more
        program.put_program(other, SYSTEM, {"earn_points": 3, "per_amount": 100}, T0)
        record_event(db, SYSTEM, _order("c1", "o3", 1000), T0)
    finally:
        other.dispose()
    # then each order earned at the rate in force when it came: 10 + 20 + 30
    assert _pending(db, "c1") == 60
    with db.read() as conn:
        earned = conn.execute(
            select(points_lots.c.order_id, points_lots.c.earned).order_by(points_lots.c.order_id)
        ).all()
        assert [tuple(r) for r in earned] == [("o1", 10), ("o2", 20), ("o3", 30)]
        assert ledger_sums(conn, "c1").pending == 60


def test_an_order_before_any_program_earns_nothing_and_the_first_after_it_earns(db: Database) -> None:
    record_event(db, SYSTEM, _order("c1", "o1", 1000), T0)  # no program yet: nothing to earn
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    program.join(db, SYSTEM, "c1", T0)
    record_event(db, SYSTEM, _order("c1", "o2", 1000), T0)
    assert _pending(db, "c1") == 10
    assert get_customer(db, SYSTEM, "c1")["order_count"] == 2


def test_a_customer_first_seen_in_an_order_gets_its_counters_and_last_order_time(db: Database) -> None:
    later = T0 + timedelta(days=2)
    record_event(db, SYSTEM, _order("new", "o1", 1500, occurred_at=later.isoformat()), T0)
    record_event(db, SYSTEM, _order("new", "o2", 500, occurred_at=T0.isoformat()), T0)  # an older one, late
    customer = get_customer(db, SYSTEM, "new")
    assert (customer["order_count"], customer["total_spent"]) == (2, 2000)
    assert customer["last_order_at"] == later
    assert customer["signed_up_at"] is None  # no profile yet
    assert customer["referral_code"].startswith("r-")


def test_a_completed_order_delivered_twice_counts_and_earns_once(db: Database) -> None:
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    program.join(db, SYSTEM, "c1", T0)
    first = record_event(db, SYSTEM, _order("c1", "o1", 1000), T0)
    again = record_event(db, SYSTEM, _order("c1", "o1", 9000), T0 + timedelta(minutes=1))
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    customer = get_customer(db, SYSTEM, "c1")
    assert (customer["order_count"], customer["total_spent"]) == (1, 1000)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(points_ledger)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 1
    assert _pending(db, "c1") == 10


def test_a_non_member_order_counts_but_earns_nothing(db: Database) -> None:
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    program.join(db, SYSTEM, "member", T0)
    record_event(db, SYSTEM, _order("guest", "o1", 1000), T0)
    record_event(db, SYSTEM, _order("member", "o2", 1000), T0)
    assert get_customer(db, SYSTEM, "guest")["order_count"] == 1
    with db.read() as conn:
        lots = conn.execute(select(points_lots.c.customer_id)).scalars().all()
    assert lots == ["member"]


def test_an_order_amount_beside_its_lines_is_what_was_spent_and_the_lines_are_what_earns(
    db: Database,
) -> None:
    # given an order of 1,200 of which 1,000 are lines that earn (the rest: shipping, say)
    program.put_program(db, SYSTEM, {"earn_points": 1, "per_amount": 100}, T0)
    program.join(db, SYSTEM, "c1", T0)
    lines = [{"product_id": "p1", "amount": 600}, {"product_id": "p2", "amount": 400}]
    record_event(db, SYSTEM, _order("c1", "o1", 1200, lines=lines), T0)
    # then the customer spent 1,200, and the order's lot earned on (and refunds in shares of) 1,000
    assert get_customer(db, SYSTEM, "c1")["total_spent"] == 1200
    with db.read() as conn:
        lot = conn.execute(select(points_lots.c.order_amount, points_lots.c.earned)).one()
    assert tuple(lot) == (1000, 10)
    record_event(
        db, SYSTEM, {"type": "order.refunded", "customer_id": "c1", "order_id": "o1", "amount": 500}, T0
    )
    assert _pending(db, "c1") == 5
