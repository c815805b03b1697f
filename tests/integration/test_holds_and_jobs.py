"""Holds, their expiry and background jobs, with the clock in the test's hands (real database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from couponry.adapters.db.engine import Database
from couponry.domain.cart import Cart, CartLine
from couponry.domain.errors import Conflict, InvalidState, RedemptionRefused
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.checkout import redemptions, reservations
from couponry.services.checkout.orders import RedemptionRequest
from couponry.services.jobs import jobs

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CART = Cart(currency="USD", lines=(CartLine(id="1", unit_price=2000, quantity=1),), shipping=0)


def _campaign(db: Database, **limits: Any) -> str:
    spec = {
        "name": "held",
        "currency": "USD",
        "issuer": {"type": "platform"},
        "discount": {"type": "amount", "amount": 500},
        "scope": {},
        "conditions": {},
        "validity": {},
        "limits": limits,
        "stacking": "order",
        "code_config": {"length": 12},
        "status": "active",
    }
    created = campaigns.create_campaign(db, SYSTEM, spec, T0)
    coupons.issue_codes(db, SYSTEM, created["id"], codes=["HOLDME"], count=None, customer_id=None, now=T0)
    return created["id"]


def _request(order: str, **extra: Any) -> RedemptionRequest:
    return RedemptionRequest(
        order, CART, ("HOLDME",), None, {"order_id": order, **extra}, extra.get("reservation_id")
    )


def _stats(db: Database, campaign_id: str) -> dict[str, int]:
    return campaigns.get_campaign(db, SYSTEM, campaign_id)["stats"]


def test_a_hold_past_its_expiry_is_released_once_by_the_sweep(db: Database) -> None:
    # given
    campaign_id = _campaign(db, max_redemptions=1, budget=10_000)
    _, hold = reservations.reserve(db, SYSTEM, _request("o1"), 60, T0)
    # when
    early = reservations.expire_holds(db, T0 + timedelta(seconds=59))
    late = reservations.expire_holds(db, T0 + timedelta(seconds=61))
    again = reservations.expire_holds(db, T0 + timedelta(seconds=120))
    # then
    assert (early, late, again) == (0, 1, 0)
    assert _stats(db, campaign_id)["held_count"] == 0 and _stats(db, campaign_id)["budget_held"] == 0
    status, _ = redemptions.redeem(db, SYSTEM, _request("o2"), T0 + timedelta(seconds=61))
    assert status == 201


def test_confirming_an_expired_hold_redeems_afresh_and_respects_the_limit(db: Database) -> None:
    # given a hold that expired, after which another order took the only use
    _campaign(db, max_redemptions=1)
    _, hold = reservations.reserve(db, SYSTEM, _request("o1"), 60, T0)
    reservations.expire_holds(db, T0 + timedelta(minutes=5))
    redemptions.redeem(db, SYSTEM, _request("o2"), T0 + timedelta(minutes=5))
    # when the first order finally confirms
    with pytest.raises(RedemptionRefused) as refused:
        redemptions.redeem(db, SYSTEM, _request("o1", reservation_id=hold["id"]), T0 + timedelta(minutes=6))
    # then
    assert refused.value.extra["codes"][0]["reason"] == "usage_limit_reached"


def test_a_consumed_hold_cannot_be_confirmed_twice(db: Database) -> None:
    _campaign(db, max_redemptions=5)
    _, hold = reservations.reserve(db, SYSTEM, _request("o1"), 60, T0)
    redemptions.redeem(db, SYSTEM, _request("o1", reservation_id=hold["id"]), T0)
    with pytest.raises(InvalidState):
        redemptions.redeem(db, SYSTEM, _request("o1", reservation_id=hold["id"]), T0)


def test_a_queued_job_is_claimed_by_one_worker_and_records_its_progress(db: Database) -> None:
    # given
    campaign_id = _campaign(db)
    status, job = coupons.issue_codes(
        db, SYSTEM, campaign_id, codes=None, count=2500, customer_id=None, now=T0
    )
    # when
    first = jobs.claim_next(db, T0)
    second = jobs.claim_next(db, T0)
    jobs.run(db, first)
    # then
    assert status == 202 and job["status"] == "queued"
    assert first.id == job["id"] and second is None
    done = jobs.get_job(db, SYSTEM, job["id"])
    assert (done["status"], done["done"], done["total"]) == ("succeeded", 2500, 2500)
    assert campaigns.get_campaign(db, SYSTEM, campaign_id)["stats"]["coupons"] == 2501


def test_idempotency_keys_past_their_retention_are_forgotten_and_younger_ones_kept(db: Database) -> None:
    # given two redemptions with keys, a day apart
    from couponry.services.checkout.idempotency import purge_expired

    _campaign(db)
    redemptions.redeem(db, SYSTEM, _request("o1"), T0, key="old-key")
    redemptions.redeem(db, SYSTEM, _request("o2"), T0 + timedelta(days=1), key="young-key")
    # when keys stored before T0 + 12 h are purged
    purged = purge_expired(db, T0 + timedelta(hours=12))
    # then only the old key is gone: its retry is a new request, which the order's own
    # (code, order) uniqueness still refuses; the young key still replays
    assert purged == 1
    with pytest.raises(Conflict, match="already redeemed"):
        redemptions.redeem(db, SYSTEM, _request("o1"), T0 + timedelta(days=1), key="old-key")
    status, _ = redemptions.redeem(db, SYSTEM, _request("o2"), T0 + timedelta(days=1), key="young-key")
    assert status == 201
