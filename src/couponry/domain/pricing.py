"""The applicator: which of the given codes apply together, and what each takes off which line.

Three steps, like django-oscar's offer applicator:
1. eligibility, per code on its own (couponry.domain.eligibility), first failure wins;
2. stacking, in request order: an exclusive code only alone, at most one code per (layer, issuer);
3. application, item layer first, then order, then shipping (request order within a layer), each
   benefit on what earlier codes left. The budget check needs the discount, so it happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from couponry.domain.benefits import discount
from couponry.domain.cart import Cart
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.eligibility import Eligible, Refusal, check
from couponry.domain.outcomes import CodeOutcome, LineDiscount, LineTotal, PricingResult
from couponry.domain.reasons import Reason
from couponry.domain.rules import CampaignRules, FreeShipping, Stacking

_LAYERS = {Stacking.ITEM: 0, Stacking.ORDER: 1, Stacking.SHIPPING: 2}

Applied = dict[int, tuple[list[int], int]]  # request index -> (part per qualifying line, shipping)


def price(
    cart: Cart,
    coupons: Sequence[CouponSnapshot | UnknownCoupon],
    customer: CustomerProfile | None,
    now: datetime,
) -> PricingResult:
    """Validate `coupons` together against `cart` and say what each takes off. No side effects."""
    checks = [check(coupon, cart, customer, now) for coupon in coupons]
    over_budget: set[int] = set()
    while True:
        # A code refused for its budget must not block others from stacking, so stack again without
        # it. Each round leaves one more code out, so this ends; almost always after one round.
        accepted = stack(checks, over_budget)
        applied, remaining, refused = apply_in_order(cart, accepted)
        if refused is None:
            break
        over_budget.add(refused)
    outcomes = [
        _outcome(cart, coupon, result, applied.get(index), index in over_budget)
        for index, (coupon, result) in enumerate(zip(coupons, checks, strict=True))
    ]
    return _result(cart, outcomes, remaining)


def application_layer(rules: CampaignRules) -> int:
    """0 item, 1 order, 2 shipping; an exclusive code is applied where its benefit belongs."""
    if rules.stacking == Stacking.EXCLUSIVE:
        return 2 if isinstance(rules.benefit, FreeShipping) else 1
    return _LAYERS[rules.stacking]


def stack(checks: Sequence[Eligible | Refusal], left_out: set[int]) -> list[tuple[int, Eligible]]:
    """The eligible codes accepted together, with their request index, in request order. The other
    eligible codes (but those `left_out`) are not combinable with them."""
    accepted: list[tuple[int, Eligible]] = []
    slots: set[tuple[Stacking, str]] = set()
    codes: set[str] = set()
    exclusive_taken = False
    for index, result in enumerate(checks):
        if not isinstance(result, Eligible) or index in left_out:
            continue
        coupon = result.coupon
        rules = coupon.rules
        exclusive = rules.stacking == Stacking.EXCLUSIVE
        slot = (rules.stacking, rules.issuer.key)
        if exclusive_taken or (exclusive and accepted) or coupon.code in codes or slot in slots:
            continue
        accepted.append((index, result))
        slots.add(slot)
        codes.add(coupon.code)
        exclusive_taken = exclusive
    return accepted


def apply_in_order(
    cart: Cart, chosen: Sequence[tuple[int, Eligible]]
) -> tuple[Applied, list[int], int | None]:
    """Apply the accepted codes layer by layer; stop at the first one its budget cannot pay for.
    Returns what each applied code takes off, what is left on each line after them, and the request
    index of the code its budget could not pay for (None when every code was applied)."""
    remaining = list(cart.amounts)
    shipping_left = cart.shipping
    applied: Applied = {}
    for index, eligible in sorted(chosen, key=lambda c: application_layer(c[1].coupon.rules)):
        parts, shipping_off = discount(eligible, cart.lines, remaining, shipping_left)
        if not fits_budget(eligible.coupon, sum(parts) + shipping_off):
            return applied, remaining, index
        for line_index, part in zip(eligible.lines, parts, strict=True):
            if part:
                remaining[line_index] -= part
        shipping_left -= shipping_off
        applied[index] = (parts, shipping_off)
    return applied, remaining, None


def fits_budget(coupon: CouponSnapshot, amount: int) -> bool:
    budget = coupon.rules.limits.budget
    return budget is None or coupon.campaign_budget_used + amount <= budget


def _outcome(
    cart: Cart,
    coupon: CouponSnapshot | UnknownCoupon,
    result: Eligible | Refusal,
    applied: tuple[list[int], int] | None,
    over_budget: bool,
) -> CodeOutcome:
    if isinstance(result, Refusal):
        campaign_id = None if isinstance(coupon, UnknownCoupon) else coupon.rules.id
        return CodeOutcome(coupon.code, False, campaign_id, result.reason, hint=result.hint)
    coupon = result.coupon
    campaign_id = coupon.rules.id
    if over_budget:
        return CodeOutcome(coupon.code, False, campaign_id, Reason.BUDGET_EXHAUSTED)
    if applied is None:
        # Not combinable; but a code its budget could not pay for even alone says so, as it would alone.
        parts, shipping_off = discount(result, cart.lines, cart.amounts, cart.shipping)
        alone_fits = fits_budget(coupon, sum(parts) + shipping_off)
        return CodeOutcome(
            coupon.code, False, campaign_id, Reason.NOT_COMBINABLE if alone_fits else Reason.BUDGET_EXHAUSTED
        )
    parts, shipping_off = applied
    cart_lines = cart.lines
    lines = [
        _line_discount((line.id, part, line.store_id))
        for line, part in zip([cart_lines[i] for i in result.lines], parts, strict=True)
        if part
    ]
    return CodeOutcome(
        code=coupon.code,
        valid=True,
        campaign_id=campaign_id,
        discount=sum(parts),
        shipping_discount=shipping_off,
        lines=tuple(lines),
        issuer_key=coupon.rules.issuer.key,
    )


def _result(cart: Cart, outcomes: list[CodeOutcome], remaining: list[int]) -> PricingResult:
    """`remaining`: what the applied codes left on each line, so a line's discount is the rest."""
    per_line = [amount - left for amount, left in zip(cart.amounts, remaining, strict=True)]
    valid = [o for o in outcomes if o.valid]
    ids = [line.id for line in cart.lines]
    return PricingResult(
        currency=cart.currency,
        subtotal=cart.subtotal,
        shipping=cart.shipping,
        discount=sum([o.discount for o in valid]),
        shipping_discount=sum([o.shipping_discount for o in valid]),
        codes=tuple(outcomes),
        lines=tuple(map(_line_total, zip(ids, cart.amounts, per_line, strict=True))),
    )


# LineDiscount and LineTotal made from a ready tuple, as NamedTuple._make does, without the Python-level
# __new__ the class's own constructor runs (one of each per cart line and code priced)
_line_discount = partial(tuple.__new__, LineDiscount)
_line_total = partial(tuple.__new__, LineTotal)
