"""Trigger rules as data, and the pure decisions about them: does a trigger fire for this occurrence,
which reward period and occasion it counts under, is a birthday today, has a package expired unused.

A trigger rewards a customer with one coupon of each of its campaigns when its event happens. Each
reward is recorded under an *occasion* (what caused it: the order, the year's birthday ...) and a
*period* (the span `per_customer` counts over: the whole life of the trigger, or one year for
birthdays and anniversaries); the database keeps both unique, so deciding twice never rewards twice.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from couponry.domain.errors import InvalidInput

EVENT_DRIVEN = ("customer.created", "order.completed", "referral.completed")
SCHEDULED = ("birthday", "signup_anniversary", "welcome.unused")
EVENTS = (*EVENT_DRIVEN, *SCHEDULED)
YEARLY = ("birthday", "signup_anniversary")
MAX_CAMPAIGNS = 20
MAX_PER_CUSTOMER = 1000


@dataclass(frozen=True, slots=True)
class Trigger:
    id: str
    event: str
    campaign_ids: tuple[str, ...]
    min_amount: int | None = None
    per_customer: int = 1
    after_trigger_id: str | None = None
    days: int | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Something that happened to one customer: `key` names it uniquely for that customer
    (the order id, the referred customer, the year ...); `amount` only for orders."""

    event: str
    customer_id: str
    key: str
    at: datetime
    amount: int | None = None


def check_trigger(body: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger's fields, checked (campaigns and `after_trigger_id` are checked against the database
    by the caller); InvalidInput names the first bad field."""
    unknown = set(body) - {"event", "campaign_ids", "min_amount", "per_customer", "after_trigger_id", "days"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "unknown field")
    event = body.get("event")
    if event not in EVENTS:
        raise InvalidInput("event", f"must be one of {', '.join(EVENTS)}")
    ids = body.get("campaign_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_CAMPAIGNS:
        raise InvalidInput("campaign_ids", f"must list 1 to {MAX_CAMPAIGNS} campaign ids")
    if not all(isinstance(c, str) and c for c in ids) or len(set(ids)) != len(ids):
        raise InvalidInput("campaign_ids", "must be distinct campaign ids")
    min_amount = body.get("min_amount")
    if min_amount is not None:
        if event != "order.completed":
            raise InvalidInput("min_amount", "applies to order.completed only")
        if not _count(min_amount, 0):
            raise InvalidInput("min_amount", "must be a non-negative integer in minor units")
    per_customer = body.get("per_customer", 1)
    if per_customer is None:
        per_customer = 1
    if not _count(per_customer, 1) or per_customer > MAX_PER_CUSTOMER:
        raise InvalidInput("per_customer", f"must be an integer from 1 to {MAX_PER_CUSTOMER}")
    after, days = body.get("after_trigger_id"), body.get("days")
    if event == "welcome.unused":
        if not isinstance(after, str) or not after:
            raise InvalidInput("after_trigger_id", "is required for welcome.unused")
        if not _count(days, 1) or days > 3650:
            raise InvalidInput("days", "must be an integer from 1 to 3650 for welcome.unused")
    elif after is not None or days is not None:
        raise InvalidInput(
            "after_trigger_id" if after is not None else "days", "applies to welcome.unused only"
        )
    return {
        "event": event,
        "campaign_ids": list(ids),
        "min_amount": min_amount,
        "per_customer": per_customer,
        "after_trigger_id": after,
        "days": days,
    }


def _count(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def fires(trigger: Trigger, occurrence: Occurrence) -> bool:
    """Whether `trigger` rewards this occurrence (before its per-customer cap, which the database holds)."""
    if trigger.event != occurrence.event:
        return False
    if trigger.event == "order.completed" and trigger.min_amount is not None:
        return occurrence.amount is not None and occurrence.amount >= trigger.min_amount
    return True


def period(trigger: Trigger, occurrence: Occurrence) -> str:
    """What `per_customer` counts over: one year for birthdays and anniversaries (one reward a year),
    else the trigger's whole life ("")."""
    return str(occurrence.at.year) if trigger.event in YEARLY else ""


def occasion(occurrence: Occurrence) -> str:
    return f"{occurrence.event}:{occurrence.key}"


def birthday_keys(day: date) -> list[str]:
    """The `MM-DD` birthdays celebrated on `day`: 29 February is celebrated on the 28th in other years."""
    keys = [f"{day.month:02d}-{day.day:02d}"]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        keys.append("02-29")
    return keys


def is_birthday(birthday: str | None, day: date) -> bool:
    return bool(birthday) and birthday[5:] in birthday_keys(day)  # type: ignore[index]


def is_anniversary(signed_up_at: datetime | None, day: date) -> bool:
    """A sign-up anniversary: the same day of a later year (29 February: the 28th in other years)."""
    if signed_up_at is None or signed_up_at.year >= day.year:
        return False
    return signed_up_at.strftime("%m-%d") in birthday_keys(day)


def coupon_ends(validity: Mapping[str, Any], issued_at: datetime) -> datetime | None:
    """When a coupon issued at `issued_at` stops being valid: the earlier of the campaign's `ends_at`
    and `days_after_issue` after the issue; None if neither is set."""
    ends = [datetime.fromisoformat(validity["ends_at"])] if validity.get("ends_at") else []
    if validity.get("days_after_issue") is not None:
        ends.append(issued_at + timedelta(days=validity["days_after_issue"]))
    return min(ends) if ends else None


@dataclass(frozen=True, slots=True)
class PackageCoupon:
    ends_at: datetime | None
    used: bool  # redeemed or held at least once


def welcome_unused_due(
    trigger: Trigger,
    first_rewarded_at: datetime,
    package: Iterable[PackageCoupon],
    orders: int,
    now: datetime,
) -> bool:
    """The second package is due when `days` have passed since the first package, every coupon of that
    package has expired unused, and the customer still has no order."""
    coupons = list(package)
    if trigger.event != "welcome.unused" or trigger.days is None or orders > 0 or not coupons:
        return False
    if now < first_rewarded_at + timedelta(days=trigger.days):
        return False
    return all(not c.used and c.ends_at is not None and c.ends_at <= now for c in coupons)
