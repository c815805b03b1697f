"""Loyalty requests (bounded, strict) and answers (plain types, for the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from couponry.api.schemas.common import MAX_AMOUNT, MAX_COUNT, CustomerId, Labels

Points = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT)]
SignedPoints = Annotated[int, Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Stock = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Weight = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CampaignId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
DayCount = Annotated[int, Field(strict=True, ge=0, le=36_500)]


# --- requests -------------------------------------------------------------------------------------


class MultiplierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: Labels = []
    categories: Labels = []
    brands: Labels = []
    factor: Annotated[float, Field(strict=True, gt=0, le=100, allow_inf_nan=False)] = Field(
        description="Points times this on lines naming one of them (the largest factor applies)"
    )


class ProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    earn_points: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = Field(
        1, description="Points earned per `per_amount` spent"
    )
    per_amount: Points = Field(1000, description="Minor units of spend that earn `earn_points`")
    point_value: Points = Field(1, description="What a point is worth, in minor units")
    pending_days: DayCount = Field(30, description="Days after the order before its points are available")
    expiry_days: Annotated[int, Field(strict=True, ge=1, le=36_500)] = Field(
        365, description="Days after becoming available before points expire"
    )
    multipliers: Annotated[list[MultiplierIn], Field(max_length=100)] = []


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    points: SignedPoints = Field(description="Non-zero: positive credits, negative takes available points")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    points: Points = Field(description="What one exchange costs")
    campaign_id: CampaignId = Field(description="The campaign whose coupon an exchange issues")
    stock: Stock | None = Field(None, description="How many exchanges at most; null: no limit")


class CustomerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId


class CouponPrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["coupon"]
    campaign_id: CampaignId
    weight: Weight
    stock: Stock | None = None


class PointsPrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["points"]
    points: Points
    weight: Weight
    stock: Stock | None = None


class NothingPrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["nothing"]
    weight: Weight


PrizeIn = Annotated[CouponPrizeIn | PointsPrizeIn | NothingPrizeIn, Field(discriminator="kind")]


class WheelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    cost_points: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)] = Field(
        0, description="Points a spin costs once the day's free spins are used"
    )
    free_spins_per_day: Annotated[int, Field(strict=True, ge=0, le=1000)] = Field(
        1, description="Free spins per member and day (days in COUPONRY_SHOP_TIMEZONE)"
    )
    prizes: Annotated[list[PrizeIn], Field(min_length=1, max_length=50)]


# --- answers --------------------------------------------------------------------------------------


class MultiplierOut(BaseModel):
    products: list[str]
    categories: list[str]
    brands: list[str]
    factor: int | float


class ProgramOut(BaseModel):
    earn_points: int
    per_amount: int
    point_value: int
    pending_days: int
    expiry_days: int
    multipliers: list[MultiplierOut]
    updated_at: datetime


class MembershipOut(BaseModel):
    customer_id: str
    member: bool
    joined_at: datetime | None
    left_at: datetime | None


class ExpiringOut(BaseModel):
    points: int
    expires_at: datetime


class PointsOut(BaseModel):
    customer_id: str
    member: bool
    pending: int = Field(description="Earned, waiting for the return window to pass")
    available: int = Field(description="Spendable; negative after a refund of points already spent (a debt)")
    lifetime: int = Field(description="Earned, bonuses and adjustments, less reversals")
    expiring_soon: list[ExpiringOut] = Field(description="Points expiring in the next 30 days, by date")


class SourceOut(BaseModel):
    type: str = Field(description="order | reward | spin | adjustment | referral | expiry")
    id: str


class EntryOut(BaseModel):
    id: str
    kind: Literal["earned", "matured", "redeemed", "expired", "reversed", "adjusted", "bonus"]
    points: int
    bucket: Literal["pending", "available"]
    pending_change: int
    available_change: int
    lifetime_change: int
    source: SourceOut
    reason: str | None
    expires_at: datetime | None
    created_at: datetime


class LedgerOut(BaseModel):
    customer_id: str
    items: list[EntryOut]
    next_cursor: str | None


class RewardOut(BaseModel):
    id: str
    name: str
    points: int
    campaign_id: str
    stock: int | None
    issued: int
    remaining: int | None
    created_at: datetime


class RewardList(BaseModel):
    items: list[RewardOut]


class ExchangeOut(BaseModel):
    id: str
    reward_id: str
    customer_id: str
    code: str
    points: int = Field(description="Points spent")
    balance: int = Field(description="Available points after the exchange")
    created_at: datetime


class PrizeOut(BaseModel):
    position: int
    kind: Literal["coupon", "points", "nothing"]
    weight: int
    campaign_id: str | None = None
    points: int | None = None
    stock: int | None = None
    remaining: int | None = None


class WheelOut(BaseModel):
    id: str
    name: str
    cost_points: int
    free_spins_per_day: int
    prizes: list[PrizeOut]
    created_at: datetime


class WheelList(BaseModel):
    items: list[WheelOut]


class SpinOut(BaseModel):
    id: str
    wheel_id: str
    customer_id: str
    prize: PrizeOut
    code: str | None
    free: bool
    points_paid: int
    created_at: datetime
