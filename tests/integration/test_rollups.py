"""The roll-ups equal a recount from the raw rows after a random mix of redemptions, partial refunds,
whole rollbacks and order events, folded at random moments (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from couponry.adapters.db import rollups
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import events, measure_adjustments
from couponry.domain.cart import Cart, CartLine
from couponry.domain.errors import CouponryError
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.checkout import redemptions, rollbacks
from couponry.services.checkout.orders import RedemptionRequest
from couponry.services.customers.customers import record_event
from couponry.services.reporting.rollups import fold, snapshot
from tests.integration.checkout import T0
from tests.recount import Figures, recount, stored

ZONE = "America/New_York"


def _campaign(db: Database, **spec: object) -> str:
    body = {
        "name": "mix", "currency": "USD", "issuer": {"type": "platform"},
        "discount": {"type": "amount", "amount": 700}, "scope": {}, "conditions": {}, "validity": {},
        "limits": {}, "stacking": "order", "code_config": {"length": 12}, "status": "active",
    }  # fmt: skip
    body.update(spec)
    return campaigns.create_campaign(db, SYSTEM, body, T0)["id"]


def _issue(db: Database, campaign_id: str, code: str, customer: str | None = None) -> None:
    coupons.issue_codes(db, SYSTEM, campaign_id, codes=[code], count=None, customer_id=customer, now=T0)


def _with_tail(db: Database) -> Figures:
    """What a report reads: the roll-ups plus the unfolded tail, in one snapshot."""
    campaigns_, stores = stored(db)
    with snapshot(db) as conn:
        tail = rollups.tail(conn, ZONE, T0)
    for key, m in tail.campaigns.items():
        row = campaigns_.setdefault(key, [0] * 5)
        for i, v in enumerate(m):
            row[i] += v
    for key, v in tail.stores.items():
        stores[key] = stores.get(key, 0) + v
    return {k: v for k, v in campaigns_.items() if any(v)}, {k: v for k, v in stores.items() if v}


def _fold_all(db: Database) -> None:
    for _ in range(5):  # PostgreSQL folds what an earlier fold saw: a few rounds catch up
        fold(db, ZONE, T0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_recount_after_a_random_mix(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    # given a platform item coupon, a store coupon and an A/B campaign with personal coupons
    platform = _campaign(db, stacking="item")
    store = _campaign(
        db, issuer={"type": "store", "store_id": "s1"}, discount={"type": "percent", "percent": 10}
    )
    tested = _campaign(
        db,
        variants=[
            {"name": "low", "discount": {"type": "amount", "amount": 300}, "weight": 1},
            {"name": "high", "discount": {"type": "amount", "amount": 900}, "weight": 1},
            {"name": "control", "weight": 1},
        ],
    )
    _issue(db, platform, f"PLAT{seed}X")
    _issue(db, store, f"STOR{seed}X")
    customers = [f"c{seed}-{n}" for n in range(8)]
    for n, customer in enumerate(customers):
        _issue(db, tested, f"ABTEST{seed}X{n}", customer)
    done: list[str] = []
    # when redemptions, refunds, rollbacks, events and folds come in a random order
    for i in range(40):
        now = T0 + timedelta(hours=7 * i)
        lines = tuple(
            CartLine(
                str(n), rng.choice([999, 2000, 3333]), rng.randint(1, 3), store_id=rng.choice(["s1", "s2"])
            )
            for n in range(rng.randint(1, 3))
        )
        customer = rng.choice(customers)
        codes = [
            c for c, on in ((f"PLAT{seed}X", rng.random() < 0.6), (f"STOR{seed}X", rng.random() < 0.4)) if on
        ]
        if rng.random() < 0.5 or not codes:
            codes.append(f"ABTEST{seed}X{customers.index(customer)}")
        cart = Cart("USD", lines, shipping=rng.choice([0, 500]))
        order = f"o{seed}-{i}"
        payload = {"order_id": order, "cart": asdict(cart), "codes": codes, "customer_id": customer}
        try:
            _, body = redemptions.redeem(
                db, SYSTEM, RedemptionRequest(order, cart, tuple(codes), customer, payload), now
            )
            done.append(body["id"])
        except CouponryError:
            continue  # e.g. the store coupon with no line of its store
        if rng.random() < 0.3:
            event = {"type": "order.completed", "customer_id": customer, "order_id": order,
                     "amount": rng.randint(1000, 20_000)}  # fmt: skip
            record_event(db, SYSTEM, event, now)
        for _ in range(rng.randint(0, 2)):
            target = rng.choice(done)
            try:
                if rng.random() < 0.3:
                    rollbacks.rollback(db, SYSTEM, target, "cancelled", None, now)
                else:
                    line_id = str(rng.randint(0, 2))
                    rollbacks.rollback(db, SYSTEM, target, "refund", [(line_id, rng.randint(1, 2))], now)
            except CouponryError:
                pass  # already rolled back, or a line without discount or units left
        if i == 25:  # the test ends: its assignments stay and keep counting its customers' variants
            campaigns.update_campaign(db, SYSTEM, tested, {"variants": []}, now)
        if rng.random() < 0.3:
            fold(db, ZONE, T0, rounds=rng.randint(1, 2))
        if rng.random() < 0.2:
            assert _with_tail(db) == recount(db, ZONE)

    # then what a report reads equals the recount at once, and the roll-ups alone once folded
    truth = recount(db, ZONE)
    assert truth[0] and truth[1]
    with db.read() as conn:  # the mix had every kind of fact
        kinds = set(conn.execute(select(measure_adjustments.c.kind)).scalars())
        assert kinds == {"rollback", "refund"}
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() > 0
        assert len({k[1] for k in truth[0]} & {"low", "high", "control"}) >= 2  # arms are drawn at random
    assert _with_tail(db) == truth
    _fold_all(db)
    assert stored(db) == truth
    with snapshot(db) as conn:
        assert rollups.tail(conn, ZONE, T0).nonzero() == ({}, {})


def test_a_new_time_zone_folds_everything_again_into_its_own_days(db: Database) -> None:
    platform = _campaign(db)
    _issue(db, platform, "ZONECODE1")
    cart = Cart("USD", (CartLine("1", 2000, 1, store_id="s1"),))
    for hour in (1, 23):  # 01:00 and 23:00 UTC: the same UTC day, two days in New York
        order = f"z{hour}"
        payload = {"order_id": order, "cart": asdict(cart), "codes": ["ZONECODE1"], "customer_id": None}
        redemptions.redeem(
            db, SYSTEM, RedemptionRequest(order, cart, ("ZONECODE1",), None, payload), T0.replace(hour=hour)
        )
    for zone in ("UTC", ZONE):
        for _ in range(5):
            fold(db, zone, T0)
        assert stored(db) == recount(db, zone)
    assert len(stored(db)[0]) == 2


def test_folds_before_the_first_redemption_leave_it_to_be_counted(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite's ends are the largest rowids stored: nothing is handed out ahead of a row")
    # given sequences that never handed a number out (a new database), and folds running before any
    # redemption: the first records what it saw, the next folds up to it once nothing else runs
    with db.write() as conn:
        conn.execute(text("ALTER SEQUENCE redemption_codes_seq_seq RESTART"))
        conn.execute(text("ALTER SEQUENCE events_seq_seq RESTART"))
    for _ in range(3):
        fold(db, ZONE, T0)
    # when the first redemption comes (its code is number 1) and is folded
    platform = _campaign(db)
    _issue(db, platform, "FIRSTONE1")
    cart = Cart("USD", (CartLine("1", 2000, 1, store_id="s1"),))
    request = RedemptionRequest("first", cart, ("FIRSTONE1",), None, {})
    redemptions.redeem(db, SYSTEM, request, T0)
    _fold_all(db)
    # then it is counted
    assert stored(db) == recount(db, ZONE)
    assert sum(m[0] for m in stored(db)[0].values()) == 1
