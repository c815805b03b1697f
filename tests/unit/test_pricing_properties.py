"""Properties of the pricing core over generated carts and coupons (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from couponry.domain.best import best_combination
from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.eligibility import covers, in_scope
from couponry.domain.money import allocate, percent_of
from couponry.domain.pricing import price
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    FreeShipping,
    Issuer,
    PercentOff,
    Scope,
    Stacking,
    Tier,
    Tiered,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)
CATEGORIES = ("shoes", "bags", "hats")

small = st.integers(min_value=1, max_value=5)
caps = st.none() | st.integers(min_value=1, max_value=5000)
lines = st.builds(
    CartLine,
    id=st.just(""),
    unit_price=st.integers(min_value=0, max_value=5000),
    quantity=small,
    category=st.sampled_from(CATEGORIES),
    store_id=st.sampled_from(("s1", "s2")),
    on_sale=st.booleans(),
)
carts = st.builds(
    lambda ls, shipping: Cart("USD", tuple(replace(ln, id=str(n)) for n, ln in enumerate(ls)), shipping),
    st.lists(lines, min_size=1, max_size=8),
    st.integers(min_value=0, max_value=1500),
)
# Valid tiers: each amount below its own min_spend, a higher tier always gives more.
tiered = st.lists(st.integers(100, 30000), min_size=1, max_size=3, unique=True).map(
    lambda spends: Tiered(tuple(Tier(s, s // 10 + i) for i, s in enumerate(sorted(spends))))
)
benefits = st.one_of(
    st.builds(AmountOff, st.integers(1, 20000)),
    st.builds(AmountPerItem, st.integers(1, 3000), st.none() | small),
    st.builds(PercentOff, st.integers(1, 1000).map(lambda p: Fraction(p, 10)), caps, st.none() | small),
    st.builds(FreeShipping, caps),
    tiered,
)
scopes = st.builds(
    Scope,
    categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
    exclude_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=1),
    exclude_on_sale=st.booleans(),
)
issuers = st.sampled_from((Issuer(), Issuer("store", "s1"), Issuer("store", "s2")))


@st.composite
def wallets(draw: st.DrawFn, max_size: int = 6) -> list[CouponSnapshot]:
    count = draw(st.integers(1, max_size))
    return [
        CouponSnapshot(
            f"C{n}",
            CampaignRules(
                f"camp{n}",
                "USD",
                draw(benefits),
                issuer=draw(issuers),
                scope=draw(scopes),
                stacking=draw(st.sampled_from(list(Stacking))),
            ),
        )
        for n in range(count)
    ]


@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**5), min_size=1, max_size=20))
def test_allocation_sums_exactly_and_no_part_exceeds_its_weight(amount: int, weights: list[int]) -> None:
    amount = min(amount, sum(weights))
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    assert all(0 <= part <= weight for part, weight in zip(parts, weights, strict=True))


@settings(max_examples=300)
@given(carts, wallets())
def test_discounts_sum_exactly_and_never_take_a_line_below_zero(
    cart: Cart, wallet: list[CouponSnapshot]
) -> None:
    result = price(cart, wallet, None, NOW)
    for outcome in result.codes:
        assert sum(part.discount for part in outcome.lines) == outcome.discount
        assert all(part.discount > 0 for part in outcome.lines)
    assert all(0 <= t.discount <= t.amount for t in result.lines)
    assert sum(t.discount for t in result.lines) == result.discount <= result.subtotal
    assert 0 <= result.shipping_discount <= result.shipping
    assert result.total >= 0


@settings(max_examples=300)
@given(carts, benefits, scopes, issuers)
def test_a_single_code_takes_exactly_its_benefit_within_its_caps(
    cart: Cart, benefit: Benefit, scope: Scope, issuer: Issuer
) -> None:
    coupon = CouponSnapshot("A", CampaignRules("camp", "USD", benefit, issuer=issuer, scope=scope))
    (outcome,) = price(cart, [coupon], None, NOW).codes
    if not outcome.valid:
        return
    qualifying = [ln for ln in cart.lines if covers(issuer, ln) and in_scope(scope, ln)]
    total = sum(ln.amount for ln in qualifying)
    touched = {part.line_id for part in outcome.lines}
    assert touched <= {ln.id for ln in qualifying}
    match benefit:
        case AmountOff(amount=amount):
            assert outcome.discount == min(amount, total)
        case AmountPerItem(amount=amount, max_items=max_items):
            units = sum(ln.quantity for ln in qualifying)
            assert outcome.discount <= amount * (units if max_items is None else min(units, max_items))
        case PercentOff(percent=percent, max_amount=cap, max_items=None):
            assert outcome.discount == min(percent_of(total, percent), cap if cap is not None else total)
        case PercentOff(percent=percent, max_amount=cap):
            assert outcome.discount <= min(percent_of(total, percent), cap if cap is not None else total)
        case FreeShipping(max_amount=cap):
            assert outcome.shipping_discount == min(cart.shipping, cap if cap is not None else cart.shipping)
        case Tiered(tiers=levels):
            reached = max((t for t in levels if t.min_spend <= total), key=lambda t: t.min_spend)
            assert outcome.discount == min(reached.amount, total)


@settings(max_examples=150, deadline=None)
@given(carts, wallets(max_size=10))
def test_the_best_combination_is_never_worse_than_any_single_valid_coupon(
    cart: Cart, wallet: list[CouponSnapshot]
) -> None:
    best = best_combination(cart, wallet, None, NOW)
    assert all(outcome.valid for outcome in best.codes)
    by_code = {coupon.code: coupon for coupon in wallet}
    assert best == price(cart, [by_code[outcome.code] for outcome in best.codes], None, NOW)
    best_saving = best.discount + best.shipping_discount
    for coupon in wallet:
        alone = price(cart, [coupon], None, NOW)
        if alone.valid:
            assert best_saving >= alone.discount + alone.shipping_discount
