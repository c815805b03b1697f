"""What the pricing core is told about a coupon and a customer: a snapshot read from storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from couponry.domain.rules import CampaignRules


@dataclass(frozen=True, slots=True)
class UnknownCoupon:
    """A code that matches no coupon (kept so the answer can name it as the client typed it)."""

    code: str


@dataclass(frozen=True, slots=True)
class CouponSnapshot:
    """A coupon with its campaign's rules and its usage at one moment. Usage counts include live holds."""

    code: str
    rules: CampaignRules
    owner_id: str | None = None
    issued_at: datetime | None = None
    campaign_redemptions: int = 0
    campaign_budget_used: int = 0
    coupon_redemptions: int = 0
    customer_redemptions: int = 0


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """The customer a cart is validated for. An unknown id is a customer with no orders and no tags."""

    id: str
    tags: frozenset[str] = frozenset()
    order_count: int = 0
    segment_ids: frozenset[str] = frozenset()
