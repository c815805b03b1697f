"""best_combination(): the wallet coupons that together save the customer the most."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from couponry.domain.best import best_combination
from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot, CustomerProfile
from couponry.domain.pricing import price
from couponry.domain.rules import (
    AmountOff,
    Benefit,
    CampaignRules,
    Conditions,
    FreeShipping,
    Issuer,
    Limits,
    PercentOff,
    Stacking,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
ALICE = CustomerProfile("alice")
CART = Cart(
    "USD",
    (CartLine("1", 6000, 1, store_id="s1"), CartLine("2", 4000, 1, store_id="s2")),
    shipping=500,
)


def coupon(name: str, benefit: Benefit, stacking: Stacking = Stacking.ORDER, **rules: Any) -> CouponSnapshot:
    return CouponSnapshot(
        name, CampaignRules(f"camp-{name}", "USD", benefit, stacking=stacking, **rules), "alice"
    )


def chosen(*wallet: CouponSnapshot, cart: Cart = CART) -> list[str]:
    return [outcome.code for outcome in best_combination(cart, wallet, ALICE, NOW).codes]


def saving(*wallet: CouponSnapshot) -> int:
    result = best_combination(CART, wallet, ALICE, NOW)
    return result.discount + result.shipping_discount


def test_of_two_coupons_in_one_slot_the_bigger_saving_is_chosen() -> None:
    assert chosen(coupon("SMALL", AmountOff(500)), coupon("BIG", PercentOff(Fraction(10)))) == ["BIG"]


def test_coupons_in_different_slots_are_combined_in_application_order() -> None:
    wallet = (
        coupon("SHIP", FreeShipping(), Stacking.SHIPPING),
        coupon("ORDER", PercentOff(Fraction(10))),
        coupon("STORE", AmountOff(1000), issuer=Issuer("store", "s2")),
        coupon("ITEM", AmountOff(2000), Stacking.ITEM),
    )
    assert chosen(*wallet) == ["ITEM", "ORDER", "STORE", "SHIP"]
    assert saving(*wallet) == 2000 + 800 + 1000 + 500


def test_an_exclusive_coupon_wins_only_when_it_saves_more_than_any_combination() -> None:
    item, order = coupon("ITEM", AmountOff(1000), Stacking.ITEM), coupon("ORDER", AmountOff(1000))
    assert chosen(item, order, coupon("EXCL", AmountOff(2500), Stacking.EXCLUSIVE)) == ["EXCL"]
    assert chosen(item, order, coupon("EXCL", AmountOff(1500), Stacking.EXCLUSIVE)) == ["ITEM", "ORDER"]


def test_ties_go_to_fewer_coupons_then_to_the_earlier_coupon_in_the_wallet() -> None:
    item, order = coupon("ITEM", AmountOff(1000), Stacking.ITEM), coupon("ORDER", AmountOff(1000))
    assert chosen(item, order, coupon("EXCL", AmountOff(2000), Stacking.EXCLUSIVE)) == ["EXCL"]
    assert chosen(coupon("FIRST", AmountOff(700)), coupon("SECOND", AmountOff(700))) == ["FIRST"]


def test_within_a_layer_a_store_coupon_goes_first_when_a_platform_amount_would_crowd_it_out() -> None:
    # given 60.00 off from the platform, spread over both stores' lines if it came first, and 40.00
    # from store s2, which then would find only 16.00 left on its line
    platform = coupon("PLATFORM", AmountOff(6000), Stacking.ITEM)
    store = coupon("S2", AmountOff(4000), Stacking.ITEM, issuer=Issuer("store", "s2"))
    # when / then the store's coupon is asked for first and both take their whole amount
    assert chosen(platform, store) == ["S2", "PLATFORM"]
    assert saving(platform, store) == 10000


def test_within_a_layer_a_platform_percent_goes_first_when_that_saves_more() -> None:
    # given 10 % from the platform and 10.00 from store s2, both in the order layer
    store = coupon("S2", AmountOff(1000), issuer=Issuer("store", "s2"))
    percent = coupon("PCT", PercentOff(Fraction(10)))
    # when / then 10 % of the whole cart, then the store's 10.00 (not 10 % of what the store left)
    assert chosen(store, percent) == ["PCT", "S2"]
    assert saving(store, percent) == 1000 + 1000


def test_a_coupon_its_budget_cannot_pay_for_alone_is_used_where_what_it_takes_fits() -> None:
    # given 10 % off with 9.00 of budget left (10.00 alone is too much) and 20.00 off in the item layer
    item = coupon("ITEM", AmountOff(2000), Stacking.ITEM)
    percent = coupon("PCT", PercentOff(Fraction(10)), limits=Limits(budget=900))
    # when / then after the item coupon, 10 % of 80.00 is 8.00, which fits
    assert chosen(percent, item) == ["ITEM", "PCT"]
    assert saving(percent, item) == 2000 + 800


def test_coupons_that_do_not_apply_are_left_out() -> None:
    wallet = (
        coupon("FAR", AmountOff(5000), conditions=Conditions(min_spend=50000)),
        coupon("PAUSED", AmountOff(5000), Stacking.ITEM, status="paused"),
        coupon("BROKE", AmountOff(5000), Stacking.SHIPPING, limits=Limits(budget=10)),
        coupon("OK", AmountOff(300)),
    )
    assert chosen(*wallet) == ["OK"]


def test_a_wallet_that_saves_nothing_applies_nothing() -> None:
    no_fee = Cart("USD", CART.lines, shipping=0)
    assert chosen(cart=no_fee) == []
    assert chosen(coupon("SHIP", FreeShipping(), Stacking.SHIPPING), cart=no_fee) == []


def test_a_code_twice_in_the_wallet_is_used_once() -> None:
    twice = coupon("A", AmountOff(500))
    assert chosen(twice, twice) == ["A"]


def test_the_answer_is_exactly_what_price_says_for_the_chosen_codes() -> None:
    # given a wallet where order matters within the order layer
    wallet = [
        coupon("PCT", PercentOff(Fraction(10))),
        coupon("STORE", AmountOff(1000), issuer=Issuer("store", "s1")),
        coupon("ITEM", PercentOff(Fraction(5)), Stacking.ITEM),
    ]
    # when
    best = best_combination(CART, wallet, ALICE, NOW)
    # then
    by_code = {c.code: c for c in wallet}
    assert best == price(CART, [by_code[o.code] for o in best.codes], ALICE, NOW)
    assert best.valid and {o.code for o in best.codes} == {"PCT", "STORE", "ITEM"}


def test_the_best_combination_beats_every_single_coupon_in_a_large_wallet() -> None:
    wallet = [
        coupon(f"C{n}", benefit, stacking, issuer=issuer)
        for n, (benefit, stacking, issuer) in enumerate(
            (b, s, i)
            for b in (AmountOff(700), PercentOff(Fraction(15), max_amount=1200), FreeShipping())
            for s in (Stacking.ITEM, Stacking.ORDER, Stacking.EXCLUSIVE)
            for i in (Issuer(), Issuer("store", "s1"), Issuer("store", "s2"))
        )
    ]
    best = saving(*wallet)
    for single in wallet:
        alone = price(CART, [single], ALICE, NOW)
        assert best >= alone.discount + alone.shipping_discount
