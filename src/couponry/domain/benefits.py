"""How much one eligible coupon takes off, given what earlier coupons left on each line.

Each benefit is a small pure function over the qualifying lines' *remaining* amounts (original amount
minus the discounts of coupons applied before it), so a percent applies to what is left and no line
ever goes below zero. The result is one part per qualifying line; the parts sum exactly to the
discount because they come from `allocate` (largest remainder) or are computed per line.
"""

from __future__ import annotations

from collections.abc import Sequence

from couponry.domain.cart import CartLine
from couponry.domain.eligibility import Eligible
from couponry.domain.money import allocate, percent_of
from couponry.domain.rules import AmountOff, AmountPerItem, FreeShipping, PercentOff, Tier, Tiered


def discount(
    eligible: Eligible, lines: Sequence[CartLine], remaining: Sequence[int], shipping_left: int
) -> tuple[list[int], int]:
    """(part per qualifying line, aligned with `eligible.lines`; shipping discount)."""
    idx = eligible.lines
    match eligible.coupon.rules.benefit:
        case FreeShipping(max_amount=cap):
            return [0] * len(idx), shipping_left if cap is None else min(cap, shipping_left)
        case AmountOff(amount=amount):
            return _spread(amount, [remaining[i] for i in idx]), 0
        case Tiered(tiers=tiers):
            return _spread(tier_amount(tiers, eligible.qualifying_total), [remaining[i] for i in idx]), 0
        case AmountPerItem(amount=amount, max_items=max_items):
            taken, bases = _touched(lines, idx, remaining, max_items)
            return [min(amount * units, base) for units, base in zip(taken, bases, strict=True)], 0
        case PercentOff(percent=percent, max_amount=cap, max_items=max_items):
            _, bases = _touched(lines, idx, remaining, max_items)
            off = percent_of(sum(bases), percent)
            return allocate(off if cap is None else min(off, cap), bases), 0
    raise TypeError(f"unknown benefit {eligible.coupon.rules.benefit!r}")  # pragma: no cover


def tier_amount(tiers: Sequence[Tier], qualifying_total: int) -> int:
    """The amount of the highest tier the qualifying total reaches (0 below the lowest tier)."""
    reached = [t for t in tiers if t.min_spend <= qualifying_total]
    return max(reached, key=lambda t: t.min_spend).amount if reached else 0


def cheapest_units(lines: Sequence[CartLine], idx: Sequence[int], max_items: int | None) -> list[int]:
    """How many units of each qualifying line a max_items benefit touches: the cheapest units first,
    equal prices in cart order. Without max_items, every unit."""
    if max_items is None:
        return [lines[i].quantity for i in idx]
    taken = [0] * len(idx)
    left = max_items
    for k in sorted(range(len(idx)), key=lambda k: (lines[idx[k]].unit_price, idx[k])):
        if left <= 0:
            break
        taken[k] = min(left, lines[idx[k]].quantity)
        left -= taken[k]
    return taken


def _touched(
    lines: Sequence[CartLine], idx: Sequence[int], remaining: Sequence[int], max_items: int | None
) -> tuple[list[int], list[int]]:
    """(units touched, what is left on them) per qualifying line."""
    if max_items is None:  # every unit of every line: what is left on each line
        return [lines[i].quantity for i in idx], [remaining[i] for i in idx]
    taken = cheapest_units(lines, idx, max_items)
    return taken, _bases(lines, idx, remaining, taken)


def _bases(
    lines: Sequence[CartLine], idx: Sequence[int], remaining: Sequence[int], taken: Sequence[int]
) -> list[int]:
    """What is left on the touched units of each line. When only some units of a line are touched,
    their share of the line's remaining amount, rounded down so a line is never over-discounted."""
    bases = []
    for i, units in zip(idx, taken, strict=True):
        quantity = lines[i].quantity
        bases.append(remaining[i] if units >= quantity else remaining[i] * units // quantity)
    return bases


def _spread(amount: int, weights: list[int]) -> list[int]:
    """An amount off the lines together: at most what is left, in proportion to what is left."""
    return allocate(min(amount, sum(weights)), weights)
