"""Properties of the pricing core over generated carts and coupons (hypothesis).

The oracles are independent of the code under test (tests/unit/oracles.py): the rounding and allocation
rules recomputed in integers, and a brute-force search for the best combination. Refused codes are not
skipped: the reason is asserted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from couponry.domain.best import best_combination
from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.money import allocate, percent_of
from couponry.domain.pricing import price
from couponry.domain.reasons import Reason
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
from tests.unit.oracles import brute_force_best, half_up_percent, largest_remainder, one_code_alone

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
    lambda ls, shipping: Cart("USD", tuple(ln._replace(id=str(n)) for n, ln in enumerate(ls)), shipping),
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


@st.composite
def budgeted_wallets(draw: st.DrawFn, max_size: int = 5) -> list[CouponSnapshot]:
    """Wallets whose campaigns may have a budget, partly used already."""
    budgeted = []
    for coupon in draw(wallets(max_size)):
        budget = draw(st.none() | st.integers(0, 3000))
        limits = replace(coupon.rules.limits, budget=budget)
        budgeted.append(
            replace(
                coupon,
                rules=replace(coupon.rules, limits=limits),
                campaign_budget_used=draw(st.integers(0, budget or 0)),
            )
        )
    return budgeted


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


@settings(max_examples=400)
@given(carts, benefits, scopes, issuers)
def test_a_single_code_takes_exactly_what_the_rules_recomputed_in_integers_say(
    cart: Cart, benefit: Benefit, scope: Scope, issuer: Issuer
) -> None:
    # given one unconditional code and what API.md's rules say it does, recomputed independently
    coupon = CouponSnapshot("A", CampaignRules("camp", "USD", benefit, issuer=issuer, scope=scope))
    expected = one_code_alone(cart, benefit, scope, issuer)
    # when
    (outcome,) = price(cart, [coupon], None, NOW).codes
    # then a refusal names the expected reason, and a discount matches to the minor unit on every line
    assert (outcome.valid, outcome.reason) == (expected.reason is None, expected.reason)
    assert {part.line_id: part.discount for part in outcome.lines} == dict(expected.parts)
    assert (outcome.discount, outcome.shipping_discount) == (expected.discount, expected.shipping)


percents = st.integers(1, 1000).map(lambda p: Fraction(p, 10)) | st.sampled_from(
    [Fraction(25, 2), Fraction(1, 3), Fraction(200, 3), Fraction(100)]
)


@given(st.integers(0, 10**9), percents)
def test_percent_of_matches_the_half_up_rule_recomputed_in_integers(total: int, percent: Fraction) -> None:
    assert percent_of(total, percent) == half_up_percent(total, percent)


@settings(max_examples=200)
@given(
    st.integers(0, 20_000),
    st.sampled_from([10, 30, 50, 70, 90]),
    st.lists(st.integers(1, 5), min_size=1, max_size=5),
)
def test_a_percent_that_lands_exactly_on_a_half_rounds_up_in_the_cart(
    tens: int, percent: int, weights: list[int]
) -> None:
    # given a qualifying total of 10 n + 5, spread over lines: an odd percent of ten lands on .5 exactly
    total = 10 * tens + 5
    amounts = largest_remainder(total, weights)
    basket = Cart("USD", tuple(CartLine(str(i), amount, 1) for i, amount in enumerate(amounts)))
    coupon = CouponSnapshot("A", CampaignRules("camp", "USD", PercentOff(Fraction(percent))))
    # when
    (outcome,) = price(basket, [coupon], None, NOW).codes
    # then the discount is the exact value plus one half, and the lines share it by largest remainder
    assert Fraction(total * percent, 100) % 1 == Fraction(1, 2)
    assert outcome.discount == total * percent // 100 + 1
    expected = largest_remainder(outcome.discount, amounts)
    assert {p.line_id: p.discount for p in outcome.lines} == {
        str(i): part for i, part in enumerate(expected) if part
    }


@settings(max_examples=150, deadline=None)
@given(carts, budgeted_wallets(max_size=5))
def test_the_best_combination_is_what_trying_every_stackable_subset_finds(
    cart: Cart, wallet: list[CouponSnapshot]
) -> None:
    # given what the brute force over every stackable subset and request order finds
    expected = brute_force_best(wallet, lambda coupons: price(cart, coupons, None, NOW))
    # when
    best = best_combination(cart, wallet, None, NOW)
    # then the same saving, from the same coupons, every one of them valid
    assert all(outcome.valid for outcome in best.codes)
    assert best.discount + best.shipping_discount == expected.saving
    chosen = sorted(next(p for p, c in enumerate(wallet) if c.code == o.code) for o in best.codes)
    assert tuple(chosen) == expected.positions
    # and a coupon left out alone is refused for a reason these wallets can produce
    for coupon in wallet:
        (alone,) = price(cart, [coupon], None, NOW).codes
        assert alone.valid or alone.reason in (
            Reason.NO_ELIGIBLE_ITEMS,
            Reason.MIN_SPEND_NOT_MET,
            Reason.BUDGET_EXHAUSTED,
        )
