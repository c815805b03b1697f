"""The cart a redemption at the till records, when no shop system sends one.

At a physical till (the POS page, or a customer sliding to redeem on the coupon page) nobody sends the
lines of the order: staff type at most the amount of the qualifying items. The redemption still goes
through the one pricing core and its limits, with a cart of the campaign's own scope (its first named
product, category and brand, the issuing store, the first allowed shipping country) on the POS channel.

- With an `amount` (the POS page): that amount, spread over `min_quantity` units when the campaign
  asks for several.
- Without one (slide to redeem): the smallest order that earns the coupon's face value: the minimum
  spend, or the amount off, or what reaches a percent's cap, or the lowest tier; a free-shipping
  coupon's shipping fee is its cap. The budget then counts that face value. An uncapped percent
  without a minimum spend has no face value: it records a zero discount.
"""

from __future__ import annotations

from couponry.domain.cart import Cart, CartLine
from couponry.domain.rules import AmountOff, AmountPerItem, CampaignRules, FreeShipping, PercentOff, Tiered

CHANNEL = "pos"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def face_value_order(rules: CampaignRules) -> tuple[int, int]:
    """(qualifying amount, shipping fee) of the smallest order that earns the coupon's face value."""
    b, min_spend = rules.benefit, rules.conditions.min_spend or 0
    units = rules.conditions.min_quantity or 1
    shipping = 0
    match b:
        case AmountOff(amount=amount):
            needed = amount
        case AmountPerItem(amount=amount):
            needed = amount * units  # each unit priced at the amount off it
        case PercentOff(percent=percent, max_amount=max_amount):
            needed = _ceil_div(max_amount * 100 * percent.denominator, percent.numerator) if max_amount else 0
        case FreeShipping(max_amount=max_amount):
            needed, shipping = 0, max_amount or 0
        case Tiered(tiers=tiers):
            needed = min(t.min_spend for t in tiers)
    return max(needed, min_spend, units), shipping


def till_cart(rules: CampaignRules, amount: int | None = None) -> Cart:
    """One line in the campaign's scope, worth `amount` (or the face-value order), on the POS channel."""
    shipping = 0
    if amount is None:
        amount, shipping = face_value_order(rules)
    scope = rules.scope
    units = max(1, min(rules.conditions.min_quantity or 1, amount)) if amount else 1
    first = lambda names: min(names) if names else None  # noqa: E731
    common = {
        "product_id": first(scope.products),
        "category": first(scope.categories),
        "brand": first(scope.brands),
        "store_id": rules.issuer.store_id,
    }
    unit_price, rest = divmod(amount, units)
    lines = [CartLine(id="till", unit_price=unit_price, quantity=units, **common)]
    if rest:
        lines.append(CartLine(id="till-rest", unit_price=rest, quantity=1, **common))
    return Cart(
        currency=rules.currency,
        lines=tuple(lines),
        shipping=shipping,
        channel=CHANNEL,
        shipping_country=first(rules.conditions.shipping_countries),
    )
