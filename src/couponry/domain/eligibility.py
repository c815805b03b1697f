"""Does a coupon apply to this cart at all? Every check that does not depend on the discount amount.

The checks run in a fixed order and the first failure is the answer, so a shopper always hears the most
fundamental reason (an expired coupon is "expired", not "minimum spend not met"). The budget check is
the one exception: it needs the discount, so the applicator does it (couponry.domain.pricing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    WEEKDAYS,
    CampaignRules,
    CampaignStatus,
    Issuer,
    Scope,
    Tiered,
    TimeWindow,
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a code does not apply, with an optional upsell hint ("Add 1200 more in qualifying items.")."""

    reason: Reason
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Eligible:
    """A coupon that passed every check but the budget: the cart lines (indexes) its discount may touch."""

    coupon: CouponSnapshot
    lines: tuple[int, ...]
    qualifying_total: int  # the qualifying lines' original amounts: thresholds and tiers use it


def check(
    coupon: CouponSnapshot | UnknownCoupon, cart: Cart, customer: CustomerProfile | None, now: datetime
) -> Eligible | Refusal:
    if isinstance(coupon, UnknownCoupon):
        return Refusal(Reason.UNKNOWN_CODE)
    rules = coupon.rules
    reason = (
        _status_and_validity(coupon, now)
        or _cart_basics(rules, cart)
        or _customer(coupon, customer)
        or _time_and_place(rules, cart, now)
        or _limits(coupon)
    )
    if reason is not None:
        return Refusal(reason)
    return _scope_and_thresholds(coupon, cart)


def effective_end(coupon: CouponSnapshot) -> datetime | None:
    """The campaign's end, or the end of the coupon's relative validity when that comes first."""
    validity = coupon.rules.validity
    ends = [validity.ends_at] if validity.ends_at else []
    if validity.days_after_issue is not None and coupon.issued_at is not None:
        ends.append(coupon.issued_at + timedelta(days=validity.days_after_issue))
    return min(ends) if ends else None


def in_scope(scope: Scope, line: CartLine) -> bool:
    """A line qualifies when it matches every non-empty include list and no exclusion."""
    return not (
        (scope.products and line.product_id not in scope.products)
        or (scope.categories and line.category not in scope.categories)
        or (scope.brands and line.brand not in scope.brands)
        or line.product_id in scope.exclude_products
        or line.category in scope.exclude_categories
        or line.brand in scope.exclude_brands
        or (scope.exclude_on_sale and line.on_sale)
    )


def covers(issuer: Issuer, line: CartLine) -> bool:
    """A store's coupon only ever touches that store's lines; the platform's touches every line."""
    return issuer.type == "platform" or line.store_id == issuer.store_id


def in_time_window(window: TimeWindow, now: datetime) -> bool:
    """`now` inside the recurring window; a window whose end <= start runs past midnight and belongs
    to the day it starts on (fri 22:00-02:00 covers Saturday 01:00, not Friday 01:00)."""
    local = now.astimezone(_zone(window.timezone))
    at, weekday = local.time(), local.weekday()
    if window.start < window.end:
        return WEEKDAYS[weekday] in window.days and window.start <= at < window.end
    return (WEEKDAYS[weekday] in window.days and at >= window.start) or (
        WEEKDAYS[(weekday - 1) % 7] in window.days and at < window.end
    )


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _status_and_validity(coupon: CouponSnapshot, now: datetime) -> Reason | None:
    rules = coupon.rules
    if rules.status != CampaignStatus.ACTIVE:
        return Reason.CAMPAIGN_INACTIVE
    if rules.validity.starts_at is not None and now < rules.validity.starts_at:
        return Reason.NOT_STARTED
    end = effective_end(coupon)
    if end is not None and now >= end:
        return Reason.EXPIRED
    return None


def _cart_basics(rules: CampaignRules, cart: Cart) -> Reason | None:
    if rules.currency != cart.currency:
        return Reason.CURRENCY_MISMATCH
    if cart.channel not in rules.conditions.channels:
        return Reason.CHANNEL_NOT_ALLOWED
    return None


def _customer(coupon: CouponSnapshot, customer: CustomerProfile | None) -> Reason | None:
    rules, conditions = coupon.rules, coupon.rules.conditions
    if customer is None:
        needs = coupon.owner_id is not None or rules.needs_customer
        return Reason.CUSTOMER_REQUIRED if needs else None
    if coupon.owner_id is not None and coupon.owner_id != customer.id:
        return Reason.NOT_ASSIGNED_TO_CUSTOMER
    if conditions.first_order_only and customer.order_count > 0:
        return Reason.FIRST_ORDER_ONLY
    if conditions.customer_tags and not conditions.customer_tags & customer.tags:
        return Reason.CUSTOMER_NOT_ELIGIBLE
    if conditions.segment_id is not None and conditions.segment_id not in customer.segment_ids:
        return Reason.CUSTOMER_NOT_ELIGIBLE
    return None


def _time_and_place(rules: CampaignRules, cart: Cart, now: datetime) -> Reason | None:
    conditions = rules.conditions
    if conditions.time_windows and not any(in_time_window(w, now) for w in conditions.time_windows):
        return Reason.OUTSIDE_TIME_WINDOW
    if conditions.shipping_countries and cart.shipping_country not in conditions.shipping_countries:
        return Reason.COUNTRY_NOT_ALLOWED
    return None


def _limits(coupon: CouponSnapshot) -> Reason | None:
    limits = coupon.rules.limits
    if limits.max_redemptions is not None and coupon.campaign_redemptions >= limits.max_redemptions:
        return Reason.USAGE_LIMIT_REACHED
    if limits.per_coupon is not None and coupon.coupon_redemptions >= limits.per_coupon:
        return Reason.COUPON_USED_UP
    if limits.per_customer is not None and coupon.customer_redemptions >= limits.per_customer:
        return Reason.CUSTOMER_LIMIT_REACHED
    return None


def _scope_and_thresholds(coupon: CouponSnapshot, cart: Cart) -> Eligible | Refusal:
    """Which lines qualify, then require_all_items, minimum quantity and minimum spend on them.

    require_all_items looks only at the lines the issuer covers: a store's "no excluded item" coupon
    is about that store's part of a marketplace cart, not about other stores' items.
    """
    rules, scope = coupon.rules, coupon.rules.scope
    lines, amounts = cart.lines, cart.amounts
    qualifying: list[int]
    if scope.everything and rules.issuer.type == "platform":  # the common case, without a per-line test
        qualifying = list(range(len(lines)))
        total = cart.subtotal
    else:
        qualifying = []
        total = 0
        issuer = rules.issuer
        every_store = issuer.type == "platform"  # covers() for every line, asked once
        for index, line in enumerate(lines):
            if not every_store and not covers(issuer, line):
                continue
            if in_scope(scope, line):
                qualifying.append(index)
                total += amounts[index]
            elif scope.require_all_items:
                return Refusal(Reason.EXCLUDED_ITEM_IN_CART)
    if not qualifying:
        return Refusal(Reason.NO_ELIGIBLE_ITEMS)
    conditions = rules.conditions
    if conditions.min_quantity is not None:
        units = sum([lines[i].quantity for i in qualifying])
        if units < conditions.min_quantity:
            missing = conditions.min_quantity - units
            return Refusal(Reason.MIN_QUANTITY_NOT_MET, f"Add {missing} more qualifying items.")
    floor = _spend_floor(rules)
    if floor is not None and total < floor:
        return Refusal(Reason.MIN_SPEND_NOT_MET, f"Add {floor - total} more in qualifying items.")
    return Eligible(coupon, tuple(qualifying), total)


def _spend_floor(rules: CampaignRules) -> int | None:
    """The least qualifying spend that gives a discount: min_spend, and the lowest tier of a Tiered."""
    floors = [] if rules.conditions.min_spend is None else [rules.conditions.min_spend]
    if isinstance(rules.benefit, Tiered) and rules.benefit.tiers:
        floors.append(min(t.min_spend for t in rules.benefit.tiers))
    return max(floors) if floors else None
