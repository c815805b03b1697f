"""The coupon center's rules: a campaign's claim offer, and why a customer may not claim it now.

A claim offer (`"claim"` on a campaign) puts the campaign in the coupon center: customers take a personal
coupon of it themselves, from a stock (or without limit), at most `per_customer` each, within a claim
window, and it is listed on the pages of the products or categories it names (all pages when none).

The refusal decided here is only what can be read before writing; stock and the per-customer limit are
decided by the database (adapters.db.claims), which alone can say who got the last unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from couponry.domain.coupon import CustomerProfile
from couponry.domain.errors import InvalidCampaign
from couponry.domain.rules import CampaignRules, CampaignStatus


class ClaimRefusal(StrEnum):
    """The 409 codes of a refused claim (shared/API.md, coupon center)."""

    OUT_OF_STOCK = "out_of_stock"
    CLAIM_LIMIT_REACHED = "claim_limit_reached"
    CLAIM_NOT_OPEN = "claim_not_open"
    NOT_CLAIMABLE = "not_claimable"


MESSAGES = {
    ClaimRefusal.OUT_OF_STOCK: "Every coupon of this campaign has been claimed.",
    ClaimRefusal.CLAIM_LIMIT_REACHED: "This customer has claimed as many of these coupons as allowed.",
    ClaimRefusal.CLAIM_NOT_OPEN: "The claim window is not open now.",
    ClaimRefusal.NOT_CLAIMABLE: "This campaign cannot be claimed by this customer.",
}


@dataclass(frozen=True, slots=True)
class ClaimOffer:
    stock: int | None = None  # None: no limit
    per_customer: int = 1
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def as_data(self) -> dict[str, Any]:
        return {
            "stock": self.stock,
            "per_customer": self.per_customer,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "products": list(self.products),
            "categories": list(self.categories),
        }

    def is_open(self, now: datetime) -> bool:
        started = self.starts_at is None or self.starts_at <= now
        return started and (self.ends_at is None or now < self.ends_at)

    def listed_for(self, product_id: str | None, category: str | None) -> bool:
        """Listed on every page when it names no product and no category; else on the pages of the
        products and categories it names. No product and no category asked: every offer."""
        if not (self.products or self.categories) or (product_id is None and category is None):
            return True
        return (product_id is not None and product_id in self.products) or (
            category is not None and category in self.categories
        )


def _time(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidCampaign(f"claim.{name}", "must be an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise InvalidCampaign(f"claim.{name}", "must carry an offset")
    return parsed


def _whole(data: Mapping[str, Any], name: str, default: int | None, least: int) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise InvalidCampaign(f"claim.{name}", f"must be a whole number of at least {least}")
    return value


def _names(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidCampaign(f"claim.{name}", "must be a list of ids")
    return tuple(dict.fromkeys(value))


def parse_offer(data: Mapping[str, Any]) -> ClaimOffer:
    """The offer of a campaign's `claim` section; InvalidCampaign names the first nonsense."""
    per_customer = _whole(data, "per_customer", 1, 1)
    if per_customer is None:
        raise InvalidCampaign("claim.per_customer", "must be a whole number of at least 1")
    offer = ClaimOffer(
        stock=_whole(data, "stock", None, 0),
        per_customer=per_customer,
        starts_at=_time(data, "starts_at"),
        ends_at=_time(data, "ends_at"),
        products=_names(data, "products"),
        categories=_names(data, "categories"),
    )
    if offer.starts_at and offer.ends_at and offer.ends_at <= offer.starts_at:
        raise InvalidCampaign("claim.ends_at", "must be after claim.starts_at")
    return offer


def eligible(rules: CampaignRules, customer: CustomerProfile | None, now: datetime) -> bool:
    """Whether the campaign can hand this customer a usable coupon at all: active, not over, and the
    customer meets its customer conditions (tags, segment, first order). Without a customer only the
    campaign itself is judged."""
    if rules.status != CampaignStatus.ACTIVE:
        return False
    if rules.validity.ends_at is not None and now >= rules.validity.ends_at:
        return False
    if customer is None:
        return True
    c = rules.conditions
    if c.first_order_only and customer.order_count > 0:
        return False
    if c.customer_tags and not c.customer_tags & customer.tags:
        return False
    return c.segment_id is None or c.segment_id in customer.segment_ids


def refusal(
    offer: ClaimOffer | None,
    rules: CampaignRules,
    customer: CustomerProfile | None,
    now: datetime,
    *,
    remaining: int | None,
    claimed_by_customer: int,
) -> ClaimRefusal | None:
    """Why this customer cannot claim now, as last read; None when a claim should succeed.
    In order: the campaign and customer, the window, the customer's own limit, then the stock."""
    if offer is None or not eligible(rules, customer, now):
        return ClaimRefusal.NOT_CLAIMABLE
    if not offer.is_open(now):
        return ClaimRefusal.CLAIM_NOT_OPEN
    if claimed_by_customer >= offer.per_customer:
        return ClaimRefusal.CLAIM_LIMIT_REACHED
    if remaining is not None and remaining <= 0:
        return ClaimRefusal.OUT_OF_STOCK
    return None
