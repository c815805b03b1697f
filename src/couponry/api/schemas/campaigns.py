"""Campaign schemas: what a client sends (CampaignCreate, CampaignUpdate) and what it gets back."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from couponry.api.schemas.common import (
    MAX_COUNT,
    Amount,
    Count,
    Country,
    Currency,
    Days,
    Flag,
    Id,
    Label,
    Labels,
    Timestamp,
)

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# the campaign's picture on its coupon pages: an http(s) URL or a path on this server, nothing a page
# could run (no javascript: or data: URL, no quotes or spaces)
ImageUrl = Annotated[
    str, StringConstraints(max_length=2000, pattern=r"^(https?://[^/\s]|/[^/\\]|/$)[^\s\"'<>\\]*$")
]


class Strict(BaseModel):
    """Campaign input refuses unknown fields: a typo must not silently drop a condition."""

    model_config = ConfigDict(extra="forbid")


class IssuerIn(Strict):
    type: Literal["platform", "store"] = "platform"
    store_id: Id | None = None


class AmountDiscount(Strict):
    type: Literal["amount"]
    amount: Amount


class AmountPerItemDiscount(Strict):
    type: Literal["amount_per_item"]
    amount: Amount
    max_items: Count | None = None


class PercentDiscount(Strict):
    type: Literal["percent"]
    percent: Annotated[Decimal, Field(gt=0, le=100, max_digits=9, decimal_places=6, allow_inf_nan=False)]
    max_amount: Amount | None = None
    max_items: Count | None = None


class FreeShippingDiscount(Strict):
    type: Literal["free_shipping"]
    max_amount: Amount | None = None


class TierIn(Strict):
    min_spend: Amount
    amount: Amount


class TieredDiscount(Strict):
    type: Literal["tiered"]
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)]


Discount = Annotated[
    AmountDiscount | AmountPerItemDiscount | PercentDiscount | FreeShippingDiscount | TieredDiscount,
    Field(discriminator="type"),
]


class ScopeIn(Strict):
    products: Labels = []
    categories: Labels = []
    brands: Labels = []
    exclude_products: Labels = []
    exclude_categories: Labels = []
    exclude_brands: Labels = []
    exclude_on_sale: Flag = False
    require_all_items: Flag = False


class TimeWindowIn(Strict):
    days: Annotated[list[Day], Field(min_length=1, max_length=7)]
    start: time
    end: time
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ConditionsIn(Strict):
    min_spend: Amount | None = None
    min_quantity: Count | None = None
    first_order_only: Flag = False
    customer_tags: Annotated[list[Label], Field(max_length=100)] = []
    segment_id: Id | None = None
    channels: Annotated[list[Literal["online", "pos"]], Field(min_length=1, max_length=2)] = ["online", "pos"]
    shipping_countries: Annotated[list[Country], Field(max_length=300)] = []
    time_windows: Annotated[list[TimeWindowIn], Field(max_length=50)] = []


class ValidityIn(Strict):
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    days_after_issue: Days | None = None


class LimitsIn(Strict):
    max_redemptions: Count | None = None
    budget: Amount | None = None
    per_coupon: Count | None = None
    per_customer: Count | None = None


class CodeConfigIn(Strict):
    length: Annotated[int, Field(strict=True, ge=6, le=32)] = 12
    prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{0,20}$")] = ""
    suffix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{0,20}$")] = ""
    pattern: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_#-]*#[A-Za-z0-9_#-]*$", max_length=64)] | None
    ) = None


class ClaimOfferIn(Strict):
    """The coupon center: customers claim a personal coupon themselves (services/distribution/claims)."""

    stock: Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)] | None = Field(
        None, description="null: no limit"
    )
    per_customer: Count = 1
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    products: Labels = []
    categories: Labels = []


class ClaimOfferPublic(BaseModel):
    """The offer as stored (answers are not validated as input is: timestamps are datetimes here)."""

    stock: int | None
    per_customer: int
    starts_at: datetime | None
    ends_at: datetime | None
    products: list[str]
    categories: list[str]
    claimed: int = Field(description="Coupons claimed so far")


class VariantIn(Strict):
    """One arm of an A/B test: its own discount (none: the control group) and its share of customers."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,50}$")]
    discount: Discount | None = None
    weight: Annotated[float, Field(strict=True, gt=0, le=1_000_000, allow_inf_nan=False)] = 1.0


class VariantPublic(BaseModel):
    name: str
    discount: Discount | None
    weight: float


Variants = Annotated[list[VariantIn], Field(max_length=10)]

Stacking = Literal["exclusive", "item", "order", "shipping"]
Status = Literal["draft", "active", "paused", "archived"]


class CampaignCreate(Strict):
    name: Name
    issuer: IssuerIn = IssuerIn()
    currency: Currency
    discount: Discount
    scope: ScopeIn = ScopeIn()
    conditions: ConditionsIn = ConditionsIn()
    validity: ValidityIn = ValidityIn()
    limits: LimitsIn = LimitsIn()
    stacking: Stacking = "order"
    code_config: CodeConfigIn = CodeConfigIn()
    status: Status = "active"
    public: Flag = False  # listed, with its codes, in the public feed GET /v1/public/coupons
    claim: ClaimOfferIn | None = None
    image_url: ImageUrl | None = Field(None, description="The campaign's picture on its coupon pages")
    variants: Variants = Field([], description="An A/B test: each customer gets one variant's discount")


class CampaignUpdate(Strict):
    """PATCH: every field optional; a given section replaces the stored one whole."""

    name: Name | None = None
    discount: Discount | None = None
    scope: ScopeIn | None = None
    conditions: ConditionsIn | None = None
    validity: ValidityIn | None = None
    limits: LimitsIn | None = None
    stacking: Stacking | None = None
    code_config: CodeConfigIn | None = None
    status: Status | None = None
    public: Flag | None = None
    claim: ClaimOfferIn | None = Field(None, description="Replaces the offer; what was claimed stays counted")
    image_url: ImageUrl | None = None
    variants: Variants | None = Field(None, description="Replaces the variants; assignments stay")


class CampaignStats(BaseModel):
    redeemed_count: int
    held_count: int
    budget_used: int
    budget_held: int
    coupons: int | None = None


class CampaignPublic(BaseModel):
    id: str
    name: str
    issuer: IssuerIn
    currency: str
    discount: Discount
    scope: ScopeIn
    conditions: ConditionsIn
    validity: ValidityIn
    limits: LimitsIn
    stacking: Stacking
    code_config: CodeConfigIn
    status: Status
    public: bool = False
    claim: ClaimOfferPublic | None = None
    image_url: str | None = None
    variants: list[VariantPublic] = []
    stats: CampaignStats
    created_at: datetime
    updated_at: datetime


class CampaignPage(BaseModel):
    items: list[CampaignPublic]
    next_cursor: str | None = None
