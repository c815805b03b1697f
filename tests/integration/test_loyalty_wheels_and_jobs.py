"""The wheel's draw against its weights (10,000 spins, chi-square), and the loyalty jobs run by several
workers at once: every lot matures once, expiry happens once, and the balances stay the ledger's sums."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from scipy.stats import chisquare
from sqlalchemy import func, select

from couponry.adapters.db import subscriptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import ledger_sums
from couponry.adapters.db.tables import loyalty_accounts, points_ledger, points_lots
from couponry.services.access.actors import SYSTEM
from couponry.services.customers.customers import record_event
from couponry.services.loyalty import jobs, program, wheels
from couponry.services.messaging.webhooks import create_webhook
from tests.integration.checkout import T0, campaign

UTC_ZONE = ZoneInfo("UTC")


@pytest.mark.slow
def test_10000_spins_follow_the_weights(db: Database) -> None:
    # given a free wheel of four prizes weighted 50/30/15/5, none limited by stock
    program.put_program(db, SYSTEM, {}, T0)
    weights = [50, 30, 15, 5]
    prizes = [
        {"kind": "nothing", "weight": 50},
        {"kind": "points", "points": 1, "weight": 30},
        {"kind": "coupon", "campaign_id": campaign(db), "weight": 15},
        {"kind": "points", "points": 5, "weight": 5},
    ]
    wheel = wheels.create_wheel(
        db, SYSTEM, {"name": "w", "cost_points": 0, "free_spins_per_day": 1_250, "prizes": prizes}, T0
    )
    spinners = [f"spinner{i}" for i in range(8)]
    for spinner in spinners:
        program.join(db, SYSTEM, spinner, T0)
    # when 8 members spin 1,250 times each, at once (10,000 spins)
    positions: list[list[int]] = [[] for _ in spinners]

    def spin_many(spinner: str) -> None:
        mine = positions[spinners.index(spinner)]
        for _ in range(1_250):
            mine.append(wheels.spin(db, SYSTEM, wheel["id"], spinner, T0, UTC_ZONE)["prize"]["position"])

    threads = [threading.Thread(target=spin_many, args=(s,)) for s in spinners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drawn = Counter(p for mine in positions for p in mine)
    assert sum(drawn.values()) == 10_000
    # then the frequencies are those of the weights (a true draw fails this 1 time in 100,000)
    observed = [drawn[i] for i in range(4)]
    expected = [10_000 * w / sum(weights) for w in weights]
    assert chisquare(observed, expected).pvalue > 1e-5, observed


def test_maturing_and_expiry_run_by_four_workers_at_once_act_once(db: Database) -> None:
    # given 40 members with 5 orders each, maturing 30 days later and expiring 10 days after that
    program.put_program(db, SYSTEM, {"pending_days": 30, "expiry_days": 10}, T0)
    customers = [f"w{i:02d}" for i in range(40)]
    for customer in customers:
        program.join(db, SYSTEM, customer, T0)
        for n in range(5):
            event = {"type": "order.completed", "customer_id": customer, "order_id": f"{customer}-{n}",
                     "amount": 1000 * (n + 1), "occurred_at": T0.isoformat()}  # fmt: skip
            record_event(db, SYSTEM, event, T0)

    # when four workers mature at once (small batches), then four expire at once
    def together(work) -> None:  # noqa: ANN001
        errors: list[BaseException] = []

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []

    together(lambda: jobs.mature_points(db, T0 + timedelta(days=31), batch=7))
    with db.read() as conn:
        matured = conn.execute(
            select(func.count()).select_from(points_ledger).where(points_ledger.c.kind == "matured")
        ).scalar_one()
        assert matured == 200
        assert conn.execute(select(func.count()).where(points_lots.c.matured.is_(False))).scalar_one() == 0
    together(lambda: jobs.expire_points(db, T0 + timedelta(days=41)))
    # then each lot matured once and everything expired once; balances are the ledger's sums
    with db.read() as conn:
        for customer in customers:
            row = conn.execute(
                select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer)
            ).one()
            sums = ledger_sums(conn, customer)
            assert (row.pending, row.available, row.lifetime) == (sums.pending, sums.available, sums.lifetime)
            assert (row.pending, row.available, row.lifetime) == (0, 0, 15)
        expired = conn.execute(
            select(func.count()).select_from(points_ledger).where(points_ledger.c.kind == "expired")
        ).scalar_one()
        assert expired == 40


@pytest.mark.parametrize("webhook", [False, True], ids=["no subscriber", "a points.changed subscriber"])
def test_maturing_answers_the_points_it_made_available(db: Database, webhook: bool) -> None:
    subscriptions.forget()
    if webhook:  # then each entry is read back, for its event
        create_webhook(db, SYSTEM, "https://example.com/hook", ["points.changed"], T0)
    program.put_program(db, SYSTEM, {"pending_days": 30}, T0)
    for i, amount in enumerate([1000, 2500, 999, 7000]):
        program.join(db, SYSTEM, f"m{i}", T0)
        event = {"type": "order.completed", "customer_id": f"m{i}", "order_id": f"m{i}-1", "amount": amount,
                 "occurred_at": T0.isoformat()}  # fmt: skip
        record_event(db, SYSTEM, event, T0)

    assert jobs.mature_points(db, T0 + timedelta(days=29), batch=2) == 0
    assert jobs.mature_points(db, T0 + timedelta(days=31), batch=2) == 1 + 2 + 0 + 7
    assert jobs.mature_points(db, T0 + timedelta(days=32), batch=2) == 0
    subscriptions.forget()


def test_the_statement_job_queues_one_mail_per_consenting_member_and_month(db: Database) -> None:
    from couponry.adapters.db.tables import outbox
    from couponry.services.customers.customers import put_customer

    program.put_program(db, SYSTEM, {}, T0)
    put_customer(db, SYSTEM, "fan", {"email": "fan@example.com", "marketing_consent": True}, T0)
    put_customer(db, SYSTEM, "quiet", {"email": "quiet@example.com", "marketing_consent": False}, T0)
    for customer in ("fan", "quiet"):
        program.join(db, SYSTEM, customer, T0)
    first_of_next_month = (T0.replace(day=1) + timedelta(days=32)).replace(day=1, hour=7)
    assert jobs.queue_statements(db, first_of_next_month) == 1
    assert jobs.queue_statements(db, first_of_next_month + timedelta(days=1)) == 0
    with db.read() as conn:
        rows = conn.execute(select(outbox.c.customer_id).where(outbox.c.type == "points_statement")).all()
    assert [r.customer_id for r in rows] == ["fan"]
