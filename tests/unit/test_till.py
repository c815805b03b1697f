"""The cart a till redemption records: in the campaign's scope, on the POS channel, worth the amount
staff typed or, without one, the smallest order that earns the coupon's face value."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from couponry.domain.coupon import CouponSnapshot
from couponry.domain.pricing import price
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    Conditions,
    FreeShipping,
    Issuer,
    PercentOff,
    Scope,
    Tier,
    Tiered,
)
from couponry.domain.till import till_cart

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def rules(benefit: Benefit, **parts: object) -> CampaignRules:
    return CampaignRules(id="c", currency="EUR", benefit=benefit, **parts)  # type: ignore[arg-type]


def discount_on(campaign: CampaignRules, amount: int | None = None) -> tuple[int, int]:
    outcome = price(till_cart(campaign, amount), [CouponSnapshot("CODE", campaign)], None, NOW).codes[0]
    assert outcome.valid, outcome.reason
    return outcome.discount, outcome.shipping_discount


@pytest.mark.parametrize(
    ("campaign", "face_value"),
    [
        (rules(AmountOff(1000)), (1000, 0)),
        (rules(AmountOff(1000), conditions=Conditions(min_spend=5000)), (1000, 0)),
        (rules(PercentOff(Fraction(15), max_amount=2000)), (2000, 0)),
        (rules(PercentOff(Fraction(30), max_amount=1000)), (1000, 0)),  # 3334 * 30 % rounds to the cap
        (rules(AmountPerItem(300), conditions=Conditions(min_quantity=3)), (900, 0)),
        (rules(FreeShipping(max_amount=700)), (0, 700)),
        (rules(Tiered((Tier(20000, 2500), Tier(10000, 1000)))), (1000, 0)),
    ],
)
def test_without_an_amount_the_till_earns_the_coupons_face_value(
    campaign: CampaignRules, face_value: tuple[int, int]
) -> None:
    assert discount_on(campaign) == face_value


def test_an_uncapped_percent_without_a_minimum_has_no_face_value() -> None:
    assert discount_on(rules(PercentOff(Fraction(15)))) == (0, 0)


def test_the_till_line_is_in_the_campaigns_scope_and_store_on_the_pos_channel() -> None:
    campaign = rules(
        AmountOff(500),
        issuer=Issuer("store", "s7"),
        scope=Scope(
            categories=frozenset({"socks", "shoes"}), brands=frozenset({"acme"}), exclude_on_sale=True
        ),
        conditions=Conditions(channels=frozenset({"pos"}), shipping_countries=frozenset({"SE", "NO"})),
    )
    cart = till_cart(campaign, 4000)
    assert cart.channel == "pos" and cart.currency == "EUR" and cart.shipping_country == "NO"
    [line] = cart.lines
    assert (line.category, line.brand, line.store_id, line.on_sale) == ("shoes", "acme", "s7", False)
    assert discount_on(campaign, 4000) == (500, 0)


def test_a_typed_amount_is_what_a_percent_is_taken_of() -> None:
    assert discount_on(rules(PercentOff(Fraction(10))), 4567) == (457, 0)


def test_a_typed_amount_is_spread_over_the_units_a_campaign_asks_for() -> None:
    campaign = rules(AmountOff(100), conditions=Conditions(min_quantity=3))
    cart = till_cart(campaign, 1000)
    assert sum(line.amount for line in cart.lines) == 1000
    assert sum(line.quantity for line in cart.lines) == 4  # 3 units of 3.33 and the 0.01 left over
    assert discount_on(campaign, 1000) == (100, 0)


def test_an_amount_below_the_minimum_spend_is_refused_with_its_reason() -> None:
    campaign = rules(AmountOff(1000), conditions=Conditions(min_spend=5000))
    outcome = price(till_cart(campaign, 4999), [CouponSnapshot("CODE", campaign)], None, NOW).codes[0]
    assert not outcome.valid and outcome.reason == "min_spend_not_met"
