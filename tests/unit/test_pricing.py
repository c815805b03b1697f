"""price(): what each code takes off which line, how codes stack, and the totals."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest

from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot, UnknownCoupon
from couponry.domain.outcomes import CodeOutcome
from couponry.domain.pricing import price
from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    Conditions,
    FreeShipping,
    Issuer,
    Limits,
    PercentOff,
    Stacking,
    Tier,
    Tiered,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
S1, S2 = Issuer("store", "s1"), Issuer("store", "s2")


def code(name: str, benefit: Benefit, stacking: Stacking = Stacking.ORDER, **rules: Any) -> CouponSnapshot:
    usage = {k: rules.pop(k) for k in ("campaign_budget_used",) if k in rules}
    return CouponSnapshot(
        name, CampaignRules(f"camp-{name}", "USD", benefit, stacking=stacking, **rules), **usage
    )


def cart(*amounts: int | tuple[int, int], shipping: int = 0, stores: str = "") -> Cart:
    """Lines from unit prices, or (unit price, quantity) pairs; `stores` gives line n the store s<digit n>."""
    lines = []
    for n, amount in enumerate(amounts):
        unit, quantity = amount if isinstance(amount, tuple) else (amount, 1)
        store = f"s{stores[n]}" if stores else None
        lines.append(CartLine(str(n + 1), unit, quantity, store_id=store))
    return Cart("USD", tuple(lines), shipping=shipping)


def parts(outcome: CodeOutcome) -> dict[str, int]:
    return {part.line_id: part.discount for part in outcome.lines}


def priced(basket: Cart, *codes: CouponSnapshot | UnknownCoupon) -> tuple[CodeOutcome, ...]:
    return price(basket, codes, None, NOW).codes


def test_the_validation_example_of_the_contract() -> None:
    result = price(cart((2000, 2), shipping=500), [code("A", PercentOff(Fraction(10)))], None, NOW)
    assert (result.subtotal, result.shipping, result.discount, result.shipping_discount) == (
        4000,
        500,
        400,
        0,
    )
    assert result.total == 4100 and result.valid
    assert parts(result.codes[0]) == {"1": 400}


def test_amount_off_is_spread_over_the_lines_in_proportion_to_their_amounts() -> None:
    (outcome,) = priced(cart(3000, 1000, 1), code("A", AmountOff(1000)))
    assert outcome.discount == 1000 and parts(outcome) == {"1": 750, "2": 250}


def test_amount_off_never_exceeds_what_the_items_cost() -> None:
    (outcome,) = priced(cart(700, 500), code("A", AmountOff(5000)))
    assert outcome.discount == 1200 and parts(outcome) == {"1": 700, "2": 500}


def test_amount_per_item_takes_its_amount_off_each_unit_but_never_more_than_the_unit() -> None:
    (outcome,) = priced(cart((1000, 3), 200), code("A", AmountPerItem(300)))
    assert parts(outcome) == {"1": 900, "2": 200}


def test_amount_per_item_with_max_items_discounts_the_cheapest_units_first() -> None:
    # given units of 10.00, 5.00 and 5.00 (two of each) and 3.00 off at most three units
    (outcome,) = priced(cart((1000, 2), (500, 2), (500, 2)), code("A", AmountPerItem(300, max_items=3)))
    # then both units of line 2 and one of line 3 (equal prices go in cart order)
    assert parts(outcome) == {"2": 600, "3": 300}


def test_percent_coupon_is_rounded_half_up_on_the_qualifying_total() -> None:
    (outcome,) = priced(cart(333, 333, 333), code("A", PercentOff(Fraction(25, 2))))
    assert outcome.discount == 125 and parts(outcome) == {"1": 42, "2": 42, "3": 41}


@pytest.mark.parametrize(
    ("basket", "benefit", "expected"),
    [
        (cart(1005), PercentOff(Fraction(10)), {"1": 101}),
        (cart(335, 335, 335), PercentOff(Fraction(10)), {"1": 34, "2": 34, "3": 33}),
        (cart((5, 3)), PercentOff(Fraction(10)), {"1": 2}),
        (cart(1), PercentOff(Fraction(50)), {"1": 1}),
        (cart(4, 4, 4), PercentOff(Fraction(25, 2)), {"1": 1, "2": 1}),
        (cart((1005, 1), (5000, 1)), PercentOff(Fraction(10), max_items=1), {"1": 101}),
        (cart(1005), PercentOff(Fraction(10), max_amount=101), {"1": 101}),
        (cart(1005), PercentOff(Fraction(10), max_amount=100), {"1": 100}),
    ],
    ids=[
        "1005 at 10%",
        "3 x 335 at 10%",
        "3 x 5 at 10%",
        "1 at 50%",
        "3 x 4 at 12.5%",
        "max_items",
        "a cap at the rounded value",
        "a cap below it",
    ],
)
def test_a_percent_landing_exactly_on_a_half_rounds_up_on_the_total_then_caps(
    basket: Cart, benefit: Benefit, expected: dict[str, int]
) -> None:
    (outcome,) = priced(basket, code("A", benefit))
    assert parts(outcome) == expected and outcome.discount == sum(expected.values())


def test_a_percent_on_what_an_item_coupon_left_rounds_an_exact_half_up() -> None:
    # given 9.95 off the only line of 20.00 in the item layer, leaving 10.05
    item, order = code("ITEM", AmountOff(995), Stacking.ITEM), code("PCT", PercentOff(Fraction(10)))
    # when / then 10 % of 10.05 is 1.005: 1.01
    assert [o.discount for o in priced(cart(2000), item, order)] == [995, 101]


def test_percent_coupon_is_capped_at_max_amount() -> None:
    (outcome,) = priced(cart(30000, 10000), code("A", PercentOff(Fraction(20), max_amount=5000)))
    assert outcome.discount == 5000 and parts(outcome) == {"1": 3750, "2": 1250}


def test_percent_coupon_with_max_items_takes_the_percent_of_the_cheapest_units() -> None:
    (outcome,) = priced(
        cart((4000, 2), (1000, 1), (3000, 3)), code("A", PercentOff(Fraction(50), max_items=2))
    )
    assert outcome.discount == (1000 + 3000) // 2 and parts(outcome) == {"2": 500, "3": 1500}


def test_free_shipping_takes_off_the_fee_up_to_its_cap_and_touches_no_line() -> None:
    uncapped, capped = (
        code("A", FreeShipping(), Stacking.SHIPPING),
        code("B", FreeShipping(500), Stacking.SHIPPING, issuer=S1),
    )
    (outcome,) = priced(cart(1000, shipping=900), uncapped)
    assert (outcome.discount, outcome.shipping_discount, outcome.lines) == (0, 900, ())
    (outcome,) = priced(cart(1000, shipping=900, stores="1"), capped)
    assert outcome.shipping_discount == 500


def test_free_shipping_on_a_cart_without_a_fee_is_valid_and_saves_nothing() -> None:
    (outcome,) = priced(cart(1000), code("A", FreeShipping(), Stacking.SHIPPING))
    assert outcome.valid and outcome.shipping_discount == 0


def test_a_tiered_coupon_gives_the_highest_tier_reached() -> None:
    tiered = code("A", Tiered((Tier(10000, 1000), Tier(20000, 2500))))
    assert priced(cart(15000), tiered)[0].discount == 1000
    assert priced(cart(12500, 12500), tiered)[0].discount == 2500
    assert priced(cart(20000), tiered)[0].discount == 2500


def test_a_tier_is_reached_on_original_amounts_but_takes_at_most_what_is_left() -> None:
    # given 95.00 off the item, then a spend-100-get-10 tier on the order
    item = code("ITEM", AmountOff(9500), Stacking.ITEM)
    tiered = code("TIER", Tiered((Tier(10000, 1000),)))
    # then the tier is reached, but only 5.00 is left to take
    assert [o.discount for o in priced(cart(10000), item, tiered)] == [9500, 500]


def test_a_store_coupon_only_discounts_that_stores_lines() -> None:
    (outcome,) = priced(cart(1000, 3000, stores="12"), code("A", PercentOff(Fraction(10)), issuer=S1))
    assert parts(outcome) == {"1": 100} and outcome.issuer_key == "store:s1"
    assert outcome.lines[0].store_id == "s1"


def test_a_platform_coupon_across_two_stores_records_the_store_of_each_line() -> None:
    (outcome,) = priced(cart(1000, 3000, stores="12"), code("A", AmountOff(800)))
    assert [(p.line_id, p.discount, p.store_id) for p in outcome.lines] == [
        ("1", 200, "s1"),
        ("2", 600, "s2"),
    ]
    assert outcome.issuer_key == "platform"


def test_an_exclusive_code_is_only_used_alone() -> None:
    exclusive, order = code("X", AmountOff(500), Stacking.EXCLUSIVE), code("O", AmountOff(100))
    assert [o.reason for o in priced(cart(5000), exclusive, order)] == [None, Reason.NOT_COMBINABLE]
    assert [o.reason for o in priced(cart(5000), order, exclusive)] == [None, Reason.NOT_COMBINABLE]


def test_a_cart_takes_one_code_per_layer_and_issuer() -> None:
    first, second = code("A", AmountOff(500)), code("B", AmountOff(300))
    store, item = code("C", AmountOff(200), issuer=S1), code("D", AmountOff(100), Stacking.ITEM)
    outcomes = priced(cart(5000, stores="1"), first, second, store, item)
    assert [o.reason for o in outcomes] == [None, Reason.NOT_COMBINABLE, None, None]
    assert price(cart(5000, stores="1"), [first, second, store, item], None, NOW).discount == 800


def test_the_same_code_twice_is_not_combinable() -> None:
    twice = code("A", AmountOff(500))
    assert [o.reason for o in priced(cart(5000), twice, twice)] == [None, Reason.NOT_COMBINABLE]


def test_a_refused_code_does_not_block_the_others() -> None:
    expired_exclusive = code("X", AmountOff(500), Stacking.EXCLUSIVE, status="paused")
    outcomes = priced(cart(5000), expired_exclusive, code("O", AmountOff(100)))
    assert [o.reason for o in outcomes] == [Reason.CAMPAIGN_INACTIVE, None]


def test_item_layer_applies_before_order_layer_and_a_percent_takes_what_is_left() -> None:
    # given a 10% order code asked for before a 10.00 item code, on 100.00
    percent, item = code("P", PercentOff(Fraction(10))), code("I", AmountOff(1000), Stacking.ITEM)
    # then the item code goes first and the percent is of 90.00
    assert [o.discount for o in priced(cart(10000), percent, item)] == [900, 1000]


def test_within_a_layer_the_request_order_decides() -> None:
    percent, amount = code("P", PercentOff(Fraction(10))), code("A", AmountOff(1000), issuer=S1)
    assert [o.discount for o in priced(cart(10000, stores="1"), percent, amount)] == [1000, 1000]
    assert [o.discount for o in priced(cart(10000, stores="1"), amount, percent)] == [1000, 900]


def test_stacked_codes_never_take_a_line_below_zero() -> None:
    item = code("I", AmountOff(1500), Stacking.ITEM)
    later = code("O", AmountOff(1000)), code("S", AmountOff(900), issuer=S1)
    result = price(cart(1000, 1000, stores="11"), [item, *later], None, NOW)
    assert [(o.valid, o.discount) for o in result.codes] == [(True, 1500), (True, 500), (True, 0)]
    assert [t.discount for t in result.lines] == [1000, 1000]


def test_an_exclusive_free_shipping_code_is_applied_as_shipping() -> None:
    (outcome,) = priced(cart(1000, shipping=450), code("X", FreeShipping(), Stacking.EXCLUSIVE))
    assert outcome.shipping_discount == 450


def test_a_discount_beyond_the_remaining_budget_is_refused() -> None:
    limits = Limits(budget=1000)
    fits = code("A", AmountOff(400), limits=limits, campaign_budget_used=600)
    too_much = code("A", AmountOff(401), limits=limits, campaign_budget_used=600)
    assert priced(cart(5000), fits)[0].valid
    assert priced(cart(5000), too_much)[0].reason is Reason.BUDGET_EXHAUSTED


def test_the_budget_is_checked_on_what_the_code_takes_after_earlier_layers() -> None:
    item = code("I", AmountOff(5000), Stacking.ITEM)
    percent = code("P", PercentOff(Fraction(10)), limits=Limits(budget=600))
    assert priced(cart(10000), percent)[0].reason is Reason.BUDGET_EXHAUSTED
    assert [o.discount for o in priced(cart(10000), percent, item)] == [500, 5000]


def test_a_code_refused_for_its_budget_leaves_its_slot_to_the_next() -> None:
    broke = code("A", AmountOff(500), Stacking.EXCLUSIVE, limits=Limits(budget=100))
    outcomes = priced(cart(5000), broke, code("B", AmountOff(300)))
    assert [(o.reason, o.discount) for o in outcomes] == [(Reason.BUDGET_EXHAUSTED, 0), (None, 300)]


def test_a_code_not_combinable_and_over_its_budget_even_alone_says_budget_exhausted() -> None:
    broke = code("B", AmountOff(500), limits=Limits(budget=100))
    assert priced(cart(5000), code("A", AmountOff(300)), broke)[1].reason is Reason.BUDGET_EXHAUSTED


def test_totals_count_only_valid_codes_and_each_refusal_is_named_in_request_order() -> None:
    # given a good code, an unknown one and one below its minimum spend
    good = code("GOOD", AmountOff(500))
    short = code("SHORT", AmountOff(500), issuer=S1, conditions=Conditions(min_spend=8000))
    # when
    result = price(cart(3000, 2000, stores="11"), [good, UnknownCoupon("BAD"), short], None, NOW)
    # then
    assert [o.code for o in result.codes] == ["GOOD", "BAD", "SHORT"]
    assert [o.campaign_id for o in result.codes] == ["camp-GOOD", None, "camp-SHORT"]
    assert not result.valid and (result.discount, result.total) == (500, 4500)
    assert result.codes[2].message == (
        "The qualifying items do not reach the minimum spend. Add 3000 more in qualifying items."
    )
    assert [(t.id, t.amount, t.discount) for t in result.lines] == [("1", 3000, 300), ("2", 2000, 200)]


def test_every_line_is_listed_even_without_a_discount_and_no_codes_is_not_valid() -> None:
    result = price(cart(1000, 2000, shipping=300), [], None, NOW)
    assert [(t.id, t.discount) for t in result.lines] == [("1", 0), ("2", 0)]
    assert (result.total, result.valid) == (3300, False)


@pytest.mark.parametrize("benefit", [AmountOff(10**6), PercentOff(Fraction(100)), AmountPerItem(10**6)])
def test_line_discounts_sum_to_the_code_and_to_the_result(benefit: Benefit) -> None:
    result = price(cart((999, 3), 1, (250, 7)), [code("A", benefit)], None, NOW)
    assert (
        sum(parts(result.codes[0]).values())
        == result.codes[0].discount
        == result.discount
        == 999 * 3 + 1 + 1750
    )
