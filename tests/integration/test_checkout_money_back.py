"""Money that must move exactly once, through the checkout services on the real database: idempotent
retries, rollbacks and partial refunds giving back use and budget, and the rounding rule end to end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from couponry.adapters.db.engine import Database
from couponry.domain.errors import IdempotencyConflict, InvalidInput, InvalidState, RedemptionRefused
from couponry.services.access.actors import SYSTEM
from couponry.services.checkout import redemptions, reservations, rollbacks, validations
from tests.integration.checkout import (
    T0,
    campaign,
    cart,
    issue,
    orders_redeemed,
    redeem,
    redeemed_count,
    request,
    stats,
)

TWO_LINES = cart(("a", 1000, 1), ("b", 1000, 2))  # 10.00 off: a gets 3.33, b gets 6.67


def _rollback(
    db: Database, redemption_id: str, lines: list[tuple[str, int]] | None = None, key: str | None = None
) -> dict[str, Any]:
    payload = {"reason": "refund", "lines": [{"id": i, "quantity": q} for i, q in lines or []]}
    return rollbacks.rollback(db, SYSTEM, redemption_id, "refund", lines, T0, key=key, payload=payload)


# --- idempotency ----------------------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_first_redemption_and_takes_nothing_more(db: Database) -> None:
    # given
    campaign_id = campaign(db, budget=10_000)
    issue(db, campaign_id, "CODE")
    # when the same request is sent twice with one key
    first = redeem(db, "o1", key="k1")
    again = redeem(db, "o1", key="k1")
    # then the second gets the first answer and nothing is taken twice
    assert again == first
    assert stats(db, campaign_id) == (1, 500, 0, 0) and redeemed_count(db, "CODE") == 1


@pytest.mark.parametrize(
    "other",
    [
        {"order": "o2"},
        {"order": "o1", "basket": cart(("1", 3000, 1))},
        {"order": "o1", "customer": "bob"},
    ],
    ids=["another order", "another cart", "another customer"],
)
def test_the_same_key_with_another_body_is_a_conflict_and_writes_nothing(
    db: Database, other: dict[str, object]
) -> None:
    # given a redemption made with key k1
    campaign_id = campaign(db, budget=10_000)
    issue(db, campaign_id, "CODE")
    redeem(db, "o1", key="k1")
    # when the key comes again with a different body
    with pytest.raises(IdempotencyConflict):
        redemptions.redeem(db, SYSTEM, request(**other), T0, key="k1")  # type: ignore[arg-type]
    # then nothing more was redeemed
    assert stats(db, campaign_id) == (1, 500, 0, 0)
    assert orders_redeemed(db, "o1") + orders_redeemed(db, "o2") == 1


def test_a_refusal_is_replayed_for_its_key_even_once_the_code_would_apply(db: Database) -> None:
    # given a redemption refused with key k1 while the only use was taken, then that use rolled back
    campaign_id = campaign(db, max_redemptions=1)
    issue(db, campaign_id, "CODE")
    taken = redeem(db, "o0")
    with pytest.raises(RedemptionRefused):
        redemptions.redeem(db, SYSTEM, request("o1"), T0, key="k1")
    _rollback(db, taken["id"])
    # when the same request is retried with its key
    with pytest.raises(RedemptionRefused) as replayed:
        redemptions.redeem(db, SYSTEM, request("o1"), T0, key="k1")
    # then the key's first answer stands and nothing was taken; a request without the key is new
    assert replayed.value.extra["codes"][0]["reason"] == "usage_limit_reached"
    assert stats(db, campaign_id) == (0, 0, 0, 0)
    redeem(db, "o1")


def test_a_reservation_key_with_another_body_is_a_conflict_and_holds_nothing(db: Database) -> None:
    campaign_id = campaign(db, max_redemptions=5)
    issue(db, campaign_id, "CODE")
    reservations.reserve(db, SYSTEM, request("o1"), 600, T0, key="k1")
    with pytest.raises(IdempotencyConflict):
        reservations.reserve(db, SYSTEM, request("o2"), 600, T0, key="k1")
    assert stats(db, campaign_id) == (0, 0, 1, 500)


def test_a_rollback_key_replays_its_answer_and_refuses_another_body(db: Database) -> None:
    # given a redemption rolled back with key k1
    campaign_id = campaign(db, budget=10_000)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", basket=TWO_LINES)
    first = _rollback(db, done["id"], key="k1")
    # when the same rollback is retried, and the key is reused for a partial refund
    again = _rollback(db, done["id"], key="k1")
    with pytest.raises(IdempotencyConflict):
        _rollback(db, done["id"], [("b", 1)], key="k1")
    # then the retry got the first answer and the budget came back once
    assert again == first and first["status"] == "rolled_back"
    assert stats(db, campaign_id) == (0, 0, 0, 0)


# --- rollbacks and partial refunds ----------------------------------------------------------------


def test_a_rollback_gives_back_the_use_the_budget_and_the_customers_use_exactly_once(db: Database) -> None:
    # given a code alice redeemed, of a campaign usable once, by each customer once, with a 5.00 budget
    campaign_id = campaign(db, max_redemptions=1, budget=500, per_customer=1)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", customer="alice")
    # when it is rolled back twice
    first = _rollback(db, done["id"])
    with pytest.raises(InvalidState) as twice:
        _rollback(db, done["id"])
    # then everything came back once, and alice can use the code again
    assert first["status"] == "rolled_back" and twice.value.code == "already_rolled_back"
    assert stats(db, campaign_id) == (0, 0, 0, 0) and redeemed_count(db, "CODE") == 0
    redeem(db, "o2", customer="alice")
    assert stats(db, campaign_id) == (1, 500, 0, 0)


def test_a_partial_refund_gives_back_the_refunded_units_share_of_the_discount_and_keeps_the_use(
    db: Database,
) -> None:
    # given 10.00 off line a (1 unit, 3.33) and line b (2 units, 6.67), from a campaign with a budget
    campaign_id = campaign(db, discount={"type": "amount", "amount": 1000}, budget=10_000)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", basket=TWO_LINES)
    assert [(x["id"], x["discount"]) for x in done["codes"][0]["lines"]] == [("a", 333), ("b", 667)]
    # when one unit of b is refunded, then the other, then line a
    one = _rollback(db, done["id"], [("b", 1)])
    after_one = stats(db, campaign_id)
    two = _rollback(db, done["id"], [("b", 1)])
    after_two = stats(db, campaign_id)
    _rollback(db, done["id"], [("a", 1)])
    # then each refund gives back its units' share (half of 6.67 rounded half-up), the use stays
    assert (one["returned_discount"], two["returned_discount"]) == (334, 667)
    assert after_one == (1, 1000 - 334, 0, 0)
    assert after_two == (1, 333, 0, 0)
    assert stats(db, campaign_id) == (1, 0, 0, 0)


def test_a_line_refunded_twice_past_its_units_gives_nothing_more_back(db: Database) -> None:
    campaign_id = campaign(db, discount={"type": "amount", "amount": 1000}, budget=10_000)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", basket=TWO_LINES)
    _rollback(db, done["id"], [("b", 2)])
    with pytest.raises(InvalidInput, match="more units"):
        _rollback(db, done["id"], [("b", 1)])
    assert stats(db, campaign_id) == (1, 333, 0, 0)


def test_a_whole_rollback_after_a_partial_refund_gives_back_only_the_rest(db: Database) -> None:
    # given one unit of line b refunded (3.34 of 10.00 back)
    campaign_id = campaign(db, discount={"type": "amount", "amount": 1000}, budget=1000)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", basket=TWO_LINES)
    _rollback(db, done["id"], [("b", 1)])
    # when the whole redemption is rolled back
    _rollback(db, done["id"])
    # then the budget is back to exactly zero used, and a full 10.00 fits in it again
    assert stats(db, campaign_id) == (0, 0, 0, 0)
    redeem(db, "o2", basket=TWO_LINES)
    assert stats(db, campaign_id) == (1, 1000, 0, 0)


def test_a_partial_refund_after_a_whole_rollback_is_refused_and_gives_nothing_back(db: Database) -> None:
    campaign_id = campaign(db, discount={"type": "amount", "amount": 1000}, budget=10_000)
    issue(db, campaign_id, "CODE")
    done = redeem(db, "o1", basket=TWO_LINES)
    _rollback(db, done["id"])
    with pytest.raises(InvalidState):
        _rollback(db, done["id"], [("b", 1)])
    assert stats(db, campaign_id) == (0, 0, 0, 0)


def test_an_expired_hold_gives_back_its_budget_once_however_often_the_sweep_runs(db: Database) -> None:
    campaign_id = campaign(db, budget=500)
    issue(db, campaign_id, "CODE")
    reservations.reserve(db, SYSTEM, request("o1"), 60, T0)
    swept = [reservations.expire_holds(db, T0 + timedelta(minutes=m)) for m in (2, 3)]
    assert swept == [1, 0] and stats(db, campaign_id) == (0, 0, 0, 0)


# --- the rounding rule, validated and redeemed ----------------------------------------------------


def test_a_percent_landing_exactly_on_a_half_rounds_up_when_validated_and_when_redeemed(db: Database) -> None:
    # given 10 % off, a budget of exactly 1.01, and three lines of 3.35: 10 % of 10.05 is 1.005
    campaign_id = campaign(db, discount={"type": "percent", "percent": 10}, budget=101)
    issue(db, campaign_id, "CODE")
    basket = cart(("a", 335, 1), ("b", 335, 1), ("c", 335, 1))
    # when
    body, _ = validations.validate(db, SYSTEM, basket, ["CODE"], None, T0)
    done = redeem(db, "o1", basket=basket)
    # then 1.01 (half-up on the total, not 1.02 per line nor 1.00 half-down), by largest remainder
    for answer in (body, done):
        assert answer["discount"] == 101 and answer["total"] == 1005 - 101
        assert [x["discount"] for x in answer["codes"][0]["lines"]] == [34, 34, 33]
    assert stats(db, campaign_id) == (1, 101, 0, 0)
