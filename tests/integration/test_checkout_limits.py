"""Every limit at its exact boundary, through the checkout services on the real database.

Each guard is tested twice: as a request sees it (the pricing core refuses from what it read), and with
a stale read (what a request sees whose read happened before a concurrent use committed), where only
the database's own conditional UPDATE stands between the request and one use too many. Holds count
against every limit both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from couponry.adapters.db.engine import Database
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import SYSTEM
from couponry.services.checkout import redemptions, reservations
from tests.integration.checkout import (
    T0,
    campaign,
    hold,
    issue,
    orders_redeemed,
    read_as_now,
    redeem,
    redeemed_count,
    refusal_of,
    request,
    serve_stale_reads,
    stats,
)


@dataclass(frozen=True)
class Guard:
    """A limit that allows exactly two uses of a 5.00 discount, and the reason the third is refused."""

    limits: dict[str, int]
    reason: str
    customer: str | None = None


GUARDS = {
    "per customer": Guard({"per_customer": 2}, "customer_limit_reached", "alice"),
    "per customer, campaign with a budget": Guard(
        {"per_customer": 2, "budget": 100_000}, "customer_limit_reached", "alice"
    ),
    "per coupon": Guard({"per_coupon": 2}, "coupon_used_up"),
    "per coupon, campaign with a limit": Guard({"per_coupon": 2, "max_redemptions": 100}, "coupon_used_up"),
    "campaign max_redemptions": Guard({"max_redemptions": 2}, "usage_limit_reached"),
    "campaign budget": Guard({"budget": 1000}, "budget_exhausted"),
}
guards = pytest.mark.parametrize("guard", GUARDS.values(), ids=GUARDS.keys())


def _guarded(db: Database, guard: Guard) -> str:
    campaign_id = campaign(db, **guard.limits)
    issue(db, campaign_id, "CODE")
    return campaign_id


def _use(db: Database, how: str, order: str, guard: Guard) -> dict[str, Any]:
    return (redeem if how == "redeemed" else hold)(db, order, customer=guard.customer)


@guards
def test_each_limit_allows_its_last_use_and_refuses_the_next(db: Database, guard: Guard) -> None:
    # given a campaign whose limit allows two uses
    campaign_id = _guarded(db, guard)
    # when three orders redeem in turn
    redeem(db, "o1", customer=guard.customer)
    redeem(db, "o2", customer=guard.customer)
    reason = refusal_of(db, "o3", customer=guard.customer)
    # then the third is refused for that limit and nothing of it was written
    assert reason == guard.reason
    assert orders_redeemed(db, "o3") == 0
    assert stats(db, campaign_id) == (2, 1000, 0, 0)
    assert redeemed_count(db, "CODE") == 2


@guards
@pytest.mark.parametrize("last_use", ["redeemed", "held"])
def test_the_database_refuses_a_use_past_each_limit_even_after_a_stale_read(
    db: Database, monkeypatch: pytest.MonkeyPatch, guard: Guard, last_use: str
) -> None:
    # given one use taken, the read of a request that starts now (one use left), then the last use
    campaign_id = _guarded(db, guard)
    redeem(db, "o1", customer=guard.customer)
    stale = read_as_now(db, ["CODE"], guard.customer)
    _use(db, last_use, "o2", guard)
    before = stats(db, campaign_id)
    # when that request redeems on what it read
    serve_stale_reads(monkeypatch, stale)
    reason = refusal_of(db, "o3", customer=guard.customer)
    # then the guarded UPDATE refuses it for that limit, and nothing of it was written
    assert reason == guard.reason
    assert orders_redeemed(db, "o3") == 0
    assert stats(db, campaign_id) == before


@guards
def test_the_database_refuses_a_hold_past_each_limit_even_after_a_stale_read(
    db: Database, monkeypatch: pytest.MonkeyPatch, guard: Guard
) -> None:
    # given one use redeemed, a read with one use left, then the last use held
    campaign_id = _guarded(db, guard)
    redeem(db, "o1", customer=guard.customer)
    stale = read_as_now(db, ["CODE"], guard.customer)
    hold(db, "o2", customer=guard.customer)
    # when another hold is asked on the stale read
    serve_stale_reads(monkeypatch, stale)
    with pytest.raises(RedemptionRefused) as refused:
        reservations.reserve(db, SYSTEM, request("o3", customer=guard.customer), 600, T0)
    # then it is refused for that limit and holds nothing
    assert [c.get("reason") for c in refused.value.extra["codes"]] == [guard.reason]
    assert stats(db, campaign_id) == (1, 500, 1, 500)


@guards
def test_a_hold_counts_against_each_limit_and_its_own_confirmation_never_fails(
    db: Database, guard: Guard
) -> None:
    # given one use redeemed and the last one held for order o2
    campaign_id = _guarded(db, guard)
    redeem(db, "o1", customer=guard.customer)
    held = hold(db, "o2", customer=guard.customer)
    # when another order tries, then o2 confirms its hold
    reason = refusal_of(db, "o3", customer=guard.customer)
    counted_while_held = stats(db, campaign_id)
    confirmed = redeem(db, "o2", customer=guard.customer, reservation_id=held["id"])
    # then the hold counted as a use, and moved from held to redeemed on confirmation
    assert reason == guard.reason
    assert counted_while_held == (1, 500, 1, 500)
    assert confirmed["reservation_id"] == held["id"]
    assert stats(db, campaign_id) == (2, 1000, 0, 0)
    assert refusal_of(db, "o4", customer=guard.customer) == guard.reason


@guards
def test_a_released_hold_gives_its_place_back_exactly_once(db: Database, guard: Guard) -> None:
    # given one use redeemed and the last one held
    campaign_id = _guarded(db, guard)
    redeem(db, "o1", customer=guard.customer)
    held = hold(db, "o2", customer=guard.customer)
    # when the hold is released twice
    first = reservations.release_reservation(db, SYSTEM, held["id"], T0)
    second = reservations.release_reservation(db, SYSTEM, held["id"], T0)
    # then its place is free once: one more order redeems, the next is refused
    assert (first["status"], second["status"]) == ("released", "released")
    assert stats(db, campaign_id) == (1, 500, 0, 0)
    redeem(db, "o3", customer=guard.customer)
    assert refusal_of(db, "o4", customer=guard.customer) == guard.reason


def test_a_per_customer_limit_counts_each_customer_apart(db: Database) -> None:
    # given alice used her two uses
    _guarded(db, GUARDS["per customer"])
    redeem(db, "o1", customer="alice")
    redeem(db, "o2", customer="alice")
    # when bob and alice redeem
    bob = redeem(db, "o3", customer="bob")
    alice = refusal_of(db, "o4", customer="alice")
    # then bob's uses are his own
    assert bob["valid"] and alice == "customer_limit_reached"


def test_a_budget_takes_a_last_discount_that_fits_exactly_and_not_one_unit_more(db: Database) -> None:
    # given a budget of 14.99 and discounts of 5.00
    campaign_id = campaign(db, budget=1499)
    issue(db, campaign_id, "CODE")
    redeem(db, "o1")
    redeem(db, "o2")
    # when a third 5.00 would need 15.00
    reason = refusal_of(db, "o3")
    # then it is refused, though 9.99 is left
    assert reason == "budget_exhausted"
    assert stats(db, campaign_id) == (2, 1000, 0, 0)


def test_a_redemption_refused_by_the_database_takes_no_use_of_its_other_codes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an open item-layer code, and an order-layer code whose only use goes after a stale read
    open_id = campaign(db, stacking="item")
    issue(db, open_id, "OPEN")
    full_id = campaign(db, max_redemptions=1)
    issue(db, full_id, "FULL")
    stale = read_as_now(db, ["OPEN", "FULL"], None)
    redeem(db, "o1", codes=["FULL"])
    # when an order redeems both on the stale read
    serve_stale_reads(monkeypatch, stale)
    with pytest.raises(RedemptionRefused) as refused:
        redemptions.redeem(db, SYSTEM, request("o2", codes=["OPEN", "FULL"]), T0)
    # then FULL is refused and the open code's use, taken in the same transaction, is not kept
    assert [c.get("reason") for c in refused.value.extra["codes"]] == [None, "usage_limit_reached"]
    assert redeemed_count(db, "OPEN") == 0 and stats(db, open_id) == (0, 0, 0, 0)
    assert orders_redeemed(db, "o2") == 0
