"""Independent oracles for the pricing properties: the rules of API.md recomputed from scratch.

Nothing here imports the code under test's arithmetic (money, benefits, eligibility, pricing, best):
the rounding rule is recomputed with integers only, the allocation from its definition, and the best
combination by trying every subset of a small wallet (and every request order within it) under the
stacking rules of SPEC.md. `price()` is used only to *evaluate* one given combination in
`brute_force_best`: the search, its pruning and its tie-breaking are what that oracle checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, permutations

from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.outcomes import PricingResult
from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    FreeShipping,
    Issuer,
    PercentOff,
    Scope,
    Stacking,
    Tiered,
)


def half_up_percent(total: int, percent: Fraction) -> int:
    """`percent` % of `total`, rounded half-up, with exact fractions: the rule as written, a half added
    to the exact value then floored (money.percent_of computes it in integers, another way)."""
    return math.floor(Fraction(total) * percent / 100 + Fraction(1, 2))


def largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split over `weights` in proportion: every part its floor, then one more unit to the
    parts with the largest remainders (the earlier part on a tie) until the parts sum to `amount`."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    floors = [amount * w // total for w in weights]
    remainders = [amount * w - f * total for w, f in zip(weights, floors, strict=True)]
    short = amount - sum(floors)
    luckiest = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]
    return [f + (1 if i in luckiest else 0) for i, f in enumerate(floors)]


def qualifies(line: CartLine, issuer: Issuer, scope: Scope) -> bool:
    """The scope rules of API.md for the fields the generated scopes use (categories, on_sale)."""
    if issuer.type == "store" and line.store_id != issuer.store_id:
        return False
    if scope.categories and line.category not in scope.categories:
        return False
    return line.category not in scope.exclude_categories and not (scope.exclude_on_sale and line.on_sale)


def cheapest_units(lines: Sequence[CartLine], max_items: int | None) -> list[int]:
    """Units touched per line: all of them, or the cheapest `max_items` (equal prices in cart order)."""
    if max_items is None:
        return [line.quantity for line in lines]
    units = [0] * len(lines)
    left = max_items
    for i in sorted(range(len(lines)), key=lambda i: (lines[i].unit_price, i)):
        units[i] = min(left, lines[i].quantity)
        left -= units[i]
    return units


@dataclass(frozen=True)
class Expected:
    """What one code alone must do to a fresh cart: refused with `reason`, or take `parts` (by line id)
    and `shipping` off."""

    reason: Reason | None = None
    parts: tuple[tuple[str, int], ...] = ()
    shipping: int = 0

    @property
    def discount(self) -> int:
        return sum(part for _, part in self.parts)


def one_code_alone(cart: Cart, benefit: Benefit, scope: Scope, issuer: Issuer) -> Expected:
    """The whole rule for one unconditional code on a fresh cart, recomputed from API.md."""
    lines = [line for line in cart.lines if qualifies(line, issuer, scope)]
    if not lines:
        return Expected(Reason.NO_ELIGIBLE_ITEMS)
    total = sum(line.unit_price * line.quantity for line in lines)
    amounts = [line.unit_price * line.quantity for line in lines]
    match benefit:
        case FreeShipping(max_amount=cap):
            return Expected(shipping=cart.shipping if cap is None else min(cap, cart.shipping))
        case AmountOff(amount=amount):
            parts = largest_remainder(min(amount, total), amounts)
        case Tiered(tiers=tiers):
            reached = [t for t in tiers if t.min_spend <= total]
            if not reached:
                return Expected(Reason.MIN_SPEND_NOT_MET)
            top = max(reached, key=lambda t: t.min_spend)
            parts = largest_remainder(min(top.amount, total), amounts)
        case AmountPerItem(amount=amount, max_items=max_items):
            units = cheapest_units(lines, max_items)
            parts = [u * min(amount, line.unit_price) for u, line in zip(units, lines, strict=True)]
        case PercentOff(percent=percent, max_amount=cap, max_items=max_items):
            units = cheapest_units(lines, max_items)
            bases = [u * line.unit_price for u, line in zip(units, lines, strict=True)]
            off = half_up_percent(sum(bases), percent)
            parts = largest_remainder(off if cap is None else min(off, cap), bases)
        case _:  # pragma: no cover - every benefit is matched above
            raise TypeError(benefit)
    return Expected(parts=tuple((line.id, part) for line, part in zip(lines, parts, strict=True) if part))


def stackable(coupons: Sequence[CouponSnapshot]) -> bool:
    """SPEC.md: an exclusive coupon only alone; at most one coupon per layer per issuer; a code once."""
    if len(coupons) > 1 and any(c.rules.stacking == Stacking.EXCLUSIVE for c in coupons):
        return False
    slots = {(c.rules.stacking, c.rules.issuer.key) for c in coupons}
    return len(slots) == len(coupons) and len({c.code for c in coupons}) == len(coupons)


@dataclass(frozen=True)
class Best:
    saving: int
    positions: tuple[int, ...]  # wallet positions, ascending


def brute_force_best(
    wallet: Sequence[CouponSnapshot], evaluate: Callable[[Sequence[CouponSnapshot]], PricingResult]
) -> Best:
    """Every stackable subset of the wallet in every request order, evaluated by `evaluate`; the largest
    saving wins, then fewer coupons, then coupons earlier in the wallet (best-coupons' tie rule)."""
    best = Best(0, ())
    for size in range(1, len(wallet) + 1):
        for positions in combinations(range(len(wallet)), size):
            chosen = [wallet[p] for p in positions]
            if not stackable(chosen):
                continue
            for order in permutations(chosen):
                result = evaluate(order)
                if not result.valid:
                    continue
                saving = result.discount + result.shipping_discount
                rank = (-saving, len(positions), positions)
                if rank < (-best.saving, len(best.positions), best.positions):
                    best = Best(saving, positions)
    return best
