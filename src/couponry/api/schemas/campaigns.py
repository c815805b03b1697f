"""Campaign schemas: what a client sends (CampaignCreate, CampaignUpdate) and what it gets back."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Amount = Annotated[int, Field(strict=True, ge=0)]
Count = Annotated[int, Field(strict=True, ge=1)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Strict(BaseModel):
    """Campaign input refuses unknown fields: a typo must not silently drop a condition."""

    model_config = ConfigDict(extra="forbid")


class IssuerIn(Strict):
    type: Literal["platform", "store"] = "platform"
    store_id: str | None = None


class AmountDiscount(Strict):
    type: Literal["amount"]
    amount: Amount


class AmountPerItemDiscount(Strict):
    type: Literal["amount_per_item"]
    amount: Amount
    max_items: Count | None = None


class PercentDiscount(Strict):
    type: Literal["percent"]
    percent: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False)]
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
    products: list[str] = []
    categories: list[str] = []
    brands: list[str] = []
    exclude_products: list[str] = []
    exclude_categories: list[str] = []
    exclude_brands: list[str] = []
    exclude_on_sale: bool = False
    require_all_items: bool = False


class TimeWindowIn(Strict):
    days: Annotated[list[Day], Field(min_length=1)]
    start: time
    end: time
    timezone: str = "UTC"

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
    first_order_only: bool = False
    customer_tags: list[str] = []
    segment_id: str | None = None
    channels: Annotated[list[Literal["online", "pos"]], Field(min_length=1)] = ["online", "pos"]
    shipping_countries: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = []
    time_windows: list[TimeWindowIn] = []


class ValidityIn(Strict):
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    days_after_issue: Count | None = None


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

    stock: Annotated[int, Field(strict=True, ge=0)] | None = Field(None, description="null: no limit")
    per_customer: Count = 1
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    products: list[Annotated[str, StringConstraints(min_length=1)]] = []
    categories: list[Annotated[str, StringConstraints(min_length=1)]] = []


class ClaimOfferPublic(ClaimOfferIn):
    claimed: int = Field(description="Coupons claimed so far")


Stacking = Literal["exclusive", "item", "order", "shipping"]
Status = Literal["draft", "active", "paused", "archived"]


class CampaignCreate(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
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
    claim: ClaimOfferIn | None = None


class CampaignUpdate(Strict):
    """PATCH: every field optional; a given section replaces the stored one whole."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    discount: Discount | None = None
    scope: ScopeIn | None = None
    conditions: ConditionsIn | None = None
    validity: ValidityIn | None = None
    limits: LimitsIn | None = None
    stacking: Stacking | None = None
    code_config: CodeConfigIn | None = None
    status: Status | None = None
    claim: ClaimOfferIn | None = Field(None, description="Replaces the offer; what was claimed stays counted")


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
    claim: ClaimOfferPublic | None = None
    stats: CampaignStats
    created_at: datetime
    updated_at: datetime


class CampaignPage(BaseModel):
    items: list[CampaignPublic]
    next_cursor: str | None = None
