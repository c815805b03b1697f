"""A campaign's discount and terms in words, for people: the coupon page, the POS page, the portal.

    >>> describe_terms(rules, ends_at=datetime(2027, 1, 1, tzinfo=UTC), now=...)
    '10.00 off orders of 50.00 or more, until 31 Dec 2026'

Amounts are written in the campaign's currency without its code (the pages name the currency once);
an `ends_at` is exclusive, so a campaign ending at midnight on 1 Jan runs "until 31 Dec". Dates are
UTC; the year is written only when it is not the current one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    WEEKDAYS,
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    FreeShipping,
    PercentOff,
    Scope,
    Tiered,
    TimeWindow,
)

# ISO 4217 currencies without minor units, and those with three (the others in use have two)
_EXPONENT = {c: 0 for c in ("JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF")}
_EXPONENT.update({c: 3 for c in ("BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD")})
_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d*))?")
_DAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a decimal amount of `currency`: 1000 USD -> "10.00", 1000 JPY -> "1,000"."""
    exponent = _EXPONENT.get(currency, 2)
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{abs(amount):,}"
    whole, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole:,}.{minor:0{exponent}d}"


def format_percent(percent: Fraction) -> str:
    """12.5 -> "12.5%", 15 -> "15%"."""
    value = Decimal(percent.numerator) / Decimal(percent.denominator)
    return f"{value.normalize():f}%"


def format_date(moment: datetime, now: datetime) -> str:
    """`31 Dec`, or `31 Dec 2027` when not this year (both in UTC)."""
    text = f"{moment.day} {moment.strftime('%b')}"
    return text if moment.year == now.year else f"{text} {moment.year}"


def _items(n: int) -> str:
    return "1 item" if n == 1 else f"{n} items"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _listing(values: frozenset[str]) -> str:
    ordered = sorted(values)
    return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " and " + ordered[-1]


def scope_words(scope: Scope) -> str | None:
    """What the discount applies to, or None for every item: "shoes", "acme items", "products p1 and p2"."""
    parts = []
    if scope.categories:
        parts.append(_listing(scope.categories))
    if scope.brands:
        parts.append(f"{_listing(scope.brands)} items")
    if scope.products:
        parts.append(f"product{'s' if len(scope.products) > 1 else ''} {_listing(scope.products)}")
    return " and ".join(parts) or None


def describe_discount(benefit: Benefit, currency: str, *, with_currency: bool = False) -> str:
    """The discount alone: "10.00 off", "15% off (up to 20.00)", "free shipping" ...; `with_currency`
    names it after each amount ("10.00 USD off"), for a mail read away from the shop."""
    suffix = f" {currency}" if with_currency else ""
    money = lambda amount: format_amount(amount, currency) + suffix  # noqa: E731
    match benefit:
        case AmountOff(amount=amount):
            return f"{money(amount)} off"
        case AmountPerItem(amount=amount, max_items=max_items):
            text = f"{money(amount)} off each item"
            return text + (f" (up to {_items(max_items)})" if max_items else "")
        case PercentOff(percent=percent, max_amount=max_amount, max_items=max_items):
            text = f"{format_percent(percent)} off"
            if max_items:
                text += " the cheapest item" if max_items == 1 else f" the {max_items} cheapest items"
            return text + (f" (up to {money(max_amount)})" if max_amount else "")
        case FreeShipping(max_amount=max_amount):
            return "free shipping" + (f" (up to {money(max_amount)})" if max_amount else "")
        case Tiered(tiers=tiers):
            best = max(tiers, key=lambda t: t.amount)
            return f"up to {money(best.amount)} off"
    raise ValueError(f"unknown benefit {benefit!r}")  # pragma: no cover - Benefit is a closed union


def _headline(rules: CampaignRules) -> str:
    """The first clause: the discount, what it is on, the spend it needs and its cap."""
    money = lambda amount: format_amount(amount, rules.currency)  # noqa: E731
    scope = scope_words(rules.scope)
    min_spend = rules.conditions.min_spend
    b = rules.benefit
    if isinstance(b, Tiered):
        return "; ".join(
            f"{money(t.amount)} off {'orders' if scope is None else scope} of {money(t.min_spend)} or more"
            for t in sorted(b.tiers, key=lambda t: t.min_spend)
        )
    if isinstance(b, AmountOff) or (isinstance(b, PercentOff) and not b.max_items):
        off = f"{money(b.amount)} off" if isinstance(b, AmountOff) else f"{format_percent(b.percent)} off"
        if scope is None:
            text = f"{off} {'your order' if min_spend is None else f'orders of {money(min_spend)} or more'}"
        else:
            text = f"{off} {scope}"
            text += f", when they come to {money(min_spend)} or more" if min_spend is not None else ""
        if isinstance(b, PercentOff) and b.max_amount:
            text += f", at most {money(b.max_amount)} off"
        return text
    # amount per item, percent off the cheapest items, free shipping: the discount says what it is on
    text = describe_discount(b, rules.currency) + (f" on {scope}" if scope else "")
    return text + (f", on orders of {money(min_spend)} or more" if min_spend is not None else "")


def _window(window: TimeWindow) -> str:
    days = [d for d in WEEKDAYS if d in window.days]
    if len(days) == 7:
        named = "every day"
    elif len(days) > 2 and WEEKDAYS.index(days[-1]) - WEEKDAYS.index(days[0]) == len(days) - 1:
        named = f"{_DAY_NAMES[days[0]]}–{_DAY_NAMES[days[-1]]}"
    else:
        named = ", ".join(_DAY_NAMES[d] for d in days)
    zone = "" if window.timezone == "UTC" else f" ({window.timezone})"
    return f"{named} {window.start:%H:%M}–{window.end:%H:%M}{zone}"


def _excluded(scope: Scope) -> str | None:
    left_out = [
        *(f"product {p}" for p in sorted(scope.exclude_products)),
        *sorted(scope.exclude_categories),
        *(f"{b} items" for b in sorted(scope.exclude_brands)),
    ]
    if scope.exclude_on_sale:
        left_out.append("items on sale")
    if not left_out:
        return None
    return "not on " + (
        left_out[0] if len(left_out) == 1 else ", ".join(left_out[:-1]) + " or " + left_out[-1]
    )


def describe_terms(
    rules: CampaignRules,
    *,
    now: datetime,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> str:
    """The terms of a campaign in one sentence, every condition a person must know about.

    `starts_at` / `ends_at` default to the campaign's validity; a coupon page passes its own coupon's
    (a relative validity ends per coupon). A campaign valid for N days after issue with no coupon to
    date it says so instead."""
    c, scope, limits = rules.conditions, rules.scope, rules.limits
    parts = [_headline(rules)]
    excluded = _excluded(scope)
    if excluded:
        parts.append(excluded)
    if scope.require_all_items:
        parts.append("only when every item in the order qualifies")
    if c.min_quantity:
        parts.append(f"when buying at least {_items(c.min_quantity)}")
    if c.first_order_only:
        parts.append("on a first order only")
    if c.customer_tags or c.segment_id:
        parts.append("for selected customers")
    if c.channels == frozenset({"online"}):
        parts.append("online only")
    elif c.channels == frozenset({"pos"}):
        parts.append("in shops only")
    if c.shipping_countries:
        parts.append(f"shipping to {_listing(c.shipping_countries)} only")
    if c.time_windows:
        parts.append(" or ".join(_window(w) for w in c.time_windows))
    if limits.per_customer is not None:
        parts.append(f"{_times(limits.per_customer)} per customer")
    starts = starts_at or rules.validity.starts_at
    ends = ends_at or rules.validity.ends_at
    if starts is not None and starts > now:
        parts.append(f"from {format_date(starts, now)}")
    if ends is not None:
        parts.append(f"until {format_date(ends - timedelta(microseconds=1), now)}")
    elif rules.validity.days_after_issue and ends_at is None:
        days = rules.validity.days_after_issue
        parts.append(f"for {days} day{'s' if days > 1 else ''} after it is issued")
    return ", ".join(parts)


# Why a coupon cannot be used, said to a shopper or to staff at the till (the API's MESSAGES speak to
# developers: "This coupon needs a customer_id.").
REASON_WORDS: dict[Reason, str] = {
    Reason.UNKNOWN_CODE: "There is no coupon with this code.",
    Reason.CAMPAIGN_INACTIVE: "This offer is not running at the moment.",
    Reason.NOT_STARTED: "This coupon is not valid yet.",
    Reason.EXPIRED: "This coupon has expired.",
    Reason.USAGE_LIMIT_REACHED: "This offer has run out: it has been used as often as it may be.",
    Reason.COUPON_USED_UP: "This coupon has already been used.",
    Reason.CUSTOMER_LIMIT_REACHED: "This customer has already used this offer as often as it allows.",
    Reason.BUDGET_EXHAUSTED: "This offer has run out: its budget is spent.",
    Reason.MIN_SPEND_NOT_MET: "The amount is below the minimum spend.",
    Reason.MIN_QUANTITY_NOT_MET: "The purchase does not have enough items.",
    Reason.NO_ELIGIBLE_ITEMS: "Nothing in this purchase qualifies.",
    Reason.EXCLUDED_ITEM_IN_CART: "The purchase holds an item this coupon excludes.",
    Reason.CUSTOMER_REQUIRED: "This coupon needs the customer's account: use it at the online checkout.",
    Reason.NOT_ASSIGNED_TO_CUSTOMER: "This coupon belongs to another customer.",
    Reason.FIRST_ORDER_ONLY: "This coupon is for a first order only.",
    Reason.CUSTOMER_NOT_ELIGIBLE: "This coupon is for selected customers only.",
    Reason.CHANNEL_NOT_ALLOWED: "This coupon cannot be used in shops: use it online.",
    Reason.CURRENCY_MISMATCH: "This coupon is for purchases in another currency.",
    Reason.NOT_COMBINABLE: "This coupon cannot be combined with another one.",
    Reason.OUTSIDE_TIME_WINDOW: "This coupon is not valid at this time of day or week.",
    Reason.COUNTRY_NOT_ALLOWED: "This coupon is not valid for this destination.",
}


def reason_words(reason: Reason, rules: CampaignRules | None = None) -> str:
    """A refusal in words for people; with the campaign's rules, a missed minimum is named."""
    if rules is not None and reason is Reason.MIN_SPEND_NOT_MET:
        floors = [rules.conditions.min_spend or 0]
        if isinstance(rules.benefit, Tiered):
            floors.append(min(t.min_spend for t in rules.benefit.tiers))
        return f"The amount is below the minimum spend of {format_amount(max(floors), rules.currency)}."
    if rules is not None and reason is Reason.MIN_QUANTITY_NOT_MET and rules.conditions.min_quantity:
        return f"This coupon needs at least {_items(rules.conditions.min_quantity)}."
    return REASON_WORDS[reason]


def parse_amount(text: str, currency: str) -> int | None:
    """An amount typed at the till ("12.5", "12,50", "1 200") in minor units; None if it is not one."""
    exponent = _EXPONENT.get(currency, 2)
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None or len(match.group(2) or "") > exponent:
        return None
    return int(Decimal(cleaned).scaleb(exponent))
