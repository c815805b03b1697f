"""A campaign's rules: scope (which items), conditions (is the cart eligible), benefit (what discount),
validity, limits and stacking layer. Plain frozen dataclasses; `check_campaign` refuses nonsense."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum
from fractions import Fraction

from couponry.domain.errors import InvalidCampaign


class Stacking(StrEnum):
    EXCLUSIVE = "exclusive"
    ITEM = "item"
    ORDER = "order"
    SHIPPING = "shipping"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who pays: the platform (usable across stores) or one store (only that store's items)."""

    type: str = "platform"
    store_id: str | None = None

    @property
    def key(self) -> str:
        return "platform" if self.type == "platform" else f"store:{self.store_id}"


# --- benefits -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AmountOff:
    """`amount` off the qualifying items together."""

    amount: int


@dataclass(frozen=True, slots=True)
class AmountPerItem:
    """`amount` off each qualifying unit (at most the unit's price), on at most `max_items` units."""

    amount: int
    max_items: int | None = None


@dataclass(frozen=True, slots=True)
class PercentOff:
    """`percent` off the qualifying items (the cheapest `max_items` units), capped by `max_amount`."""

    percent: Fraction
    max_amount: int | None = None
    max_items: int | None = None


@dataclass(frozen=True, slots=True)
class FreeShipping:
    """The shipping fee off, at most `max_amount`."""

    max_amount: int | None = None


@dataclass(frozen=True, slots=True)
class Tier:
    min_spend: int
    amount: int


@dataclass(frozen=True, slots=True)
class Tiered:
    """The amount of the highest tier whose `min_spend` the qualifying items reach."""

    tiers: tuple[Tier, ...]


Benefit = AmountOff | AmountPerItem | PercentOff | FreeShipping | Tiered


# --- scope, conditions, validity, limits ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Which items a discount applies to. Empty include lists mean every item."""

    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    exclude_products: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    exclude_brands: frozenset[str] = frozenset()
    exclude_on_sale: bool = False
    require_all_items: bool = False

    @property
    def everything(self) -> bool:
        """True when every item qualifies (no include list, no exclusion)."""
        return not (
            self.products
            or self.categories
            or self.brands
            or self.exclude_products
            or self.exclude_categories
            or self.exclude_brands
            or self.exclude_on_sale
        )


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A recurring window (e.g. weekdays 14:00-17:00 Europe/Oslo). `end` <= `start` wraps midnight."""

    days: frozenset[str]
    start: time
    end: time
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Conditions:
    min_spend: int | None = None
    min_quantity: int | None = None
    first_order_only: bool = False
    customer_tags: frozenset[str] = frozenset()
    segment_id: str | None = None
    channels: frozenset[str] = frozenset({"online", "pos"})
    shipping_countries: frozenset[str] = frozenset()
    time_windows: tuple[TimeWindow, ...] = ()


@dataclass(frozen=True, slots=True)
class Validity:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days_after_issue: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    max_redemptions: int | None = None
    budget: int | None = None
    per_coupon: int | None = None
    per_customer: int | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of an A/B test: its own discount (None: a control that gets no discount) and weight."""

    name: str
    benefit: Benefit | None
    weight: float = 1.0


NO_DISCOUNT = AmountOff(0)  # how a control arm's coupon prices: valid, nothing off


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """Everything the pricing core needs to know about a campaign."""

    id: str
    currency: str
    benefit: Benefit
    issuer: Issuer = field(default_factory=Issuer)
    scope: Scope = field(default_factory=Scope)
    conditions: Conditions = field(default_factory=Conditions)
    validity: Validity = field(default_factory=Validity)
    limits: Limits = field(default_factory=Limits)
    stacking: Stacking = Stacking.ORDER
    status: CampaignStatus = CampaignStatus.ACTIVE
    variants: tuple[Variant, ...] = ()

    @property
    def needs_customer(self) -> bool:
        c = self.conditions
        return bool(
            self.limits.per_customer is not None or c.first_order_only or c.customer_tags or c.segment_id
        )


def check_campaign(name: str, rules: CampaignRules) -> None:
    """Refuse a campaign that cannot make sense, naming the offending field."""
    if not name.strip():
        raise InvalidCampaign("name", "must not be empty")
    b = rules.benefit
    min_spend = rules.conditions.min_spend
    match b:
        case AmountOff(amount=amount):
            if amount <= 0:
                raise InvalidCampaign("discount.amount", "must be positive")
            if min_spend is not None and amount >= min_spend:
                raise InvalidCampaign(
                    "discount.amount", f"an amount off ({amount}) must be below its min_spend ({min_spend})"
                )
        case AmountPerItem(amount=amount, max_items=max_items):
            if amount <= 0:
                raise InvalidCampaign("discount.amount", "must be positive")
            _positive_or_none("discount.max_items", max_items)
        case PercentOff(percent=percent, max_amount=max_amount, max_items=max_items):
            if not 0 < percent <= 100:
                raise InvalidCampaign("discount.percent", "must be greater than 0 and at most 100")
            _positive_or_none("discount.max_amount", max_amount)
            _positive_or_none("discount.max_items", max_items)
        case FreeShipping(max_amount=max_amount):
            _positive_or_none("discount.max_amount", max_amount)
        case Tiered(tiers=tiers):
            if not tiers:
                raise InvalidCampaign("discount.tiers", "needs at least one tier")
            spends = [t.min_spend for t in tiers]
            if len(set(spends)) != len(spends):
                raise InvalidCampaign("discount.tiers", "two tiers share a min_spend")
            for i, tier in enumerate(tiers):
                if tier.amount <= 0 or tier.min_spend < 0:
                    raise InvalidCampaign(f"discount.tiers[{i}]", "amounts must be positive")
                if tier.amount >= tier.min_spend:
                    raise InvalidCampaign(
                        f"discount.tiers[{i}].amount",
                        f"a tier's amount ({tier.amount}) must be below its min_spend ({tier.min_spend})",
                    )
            ordered = sorted(tiers, key=lambda t: t.min_spend)
            if any(a.amount >= b.amount for a, b in zip(ordered, ordered[1:], strict=False)):
                raise InvalidCampaign("discount.tiers", "a higher tier must give a larger amount")
    c = rules.conditions
    for name_, value in (("conditions.min_spend", c.min_spend), ("conditions.min_quantity", c.min_quantity)):
        if value is not None and value < 0:
            raise InvalidCampaign(name_, "must not be negative")
    if not c.channels:
        raise InvalidCampaign("conditions.channels", "must allow at least one channel")
    for i, w in enumerate(c.time_windows):
        if not w.days:
            raise InvalidCampaign(f"conditions.time_windows[{i}].days", "must name at least one day")
        if w.start == w.end:
            raise InvalidCampaign(f"conditions.time_windows[{i}]", "start and end must differ")
    v = rules.validity
    if v.starts_at and v.ends_at and v.ends_at <= v.starts_at:
        raise InvalidCampaign("validity.ends_at", "must be after validity.starts_at")
    _positive_or_none("validity.days_after_issue", v.days_after_issue)
    lim = rules.limits
    for name_, value in (
        ("limits.max_redemptions", lim.max_redemptions),
        ("limits.per_coupon", lim.per_coupon),
        ("limits.per_customer", lim.per_customer),
    ):
        _positive_or_none(name_, value)
    if lim.budget is not None and lim.budget < 0:
        raise InvalidCampaign("limits.budget", "must not be negative")
    if rules.issuer.type == "store" and not rules.issuer.store_id:
        raise InvalidCampaign("issuer.store_id", "a store issuer needs a store_id")
    _check_variants(name, rules)


def _check_variants(name: str, rules: CampaignRules) -> None:
    if not rules.variants:
        return
    if len(rules.variants) < 2:
        raise InvalidCampaign("variants", "an A/B test needs at least two variants")
    names = [v.name for v in rules.variants]
    if len(set(names)) != len(names):
        raise InvalidCampaign("variants", "two variants share a name")
    if sum(v.benefit is None for v in rules.variants) > 1:
        raise InvalidCampaign("variants", "at most one variant may be the control (no discount)")
    for i, v in enumerate(rules.variants):
        if not v.weight > 0:
            raise InvalidCampaign(f"variants[{i}].weight", "must be positive")
        if v.benefit is not None:
            try:
                check_campaign(name, replace(rules, benefit=v.benefit, variants=()))
            except InvalidCampaign as exc:
                reason = exc.detail.removeprefix(f"{exc.field}: ")
                raise InvalidCampaign(f"variants[{i}].{exc.field}", reason) from None


def _positive_or_none(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise InvalidCampaign(name, "must be positive")
