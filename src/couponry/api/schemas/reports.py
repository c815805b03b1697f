"""Measuring answers: campaign statistics, A/B variants, settlement. Response models only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DiscountCost(BaseModel):
    platform: int = Field(description="Borne by the platform (platform coupons)")
    store: int = Field(description="Borne by the issuing stores (store coupons)")
    total: int


class Figures(BaseModel):
    issued: int = Field(description="Coupons issued in the period (per variant: customers assigned)")
    redeemed: int = Field(description="Redemptions of the campaign's codes, rollbacks excluded")
    redemption_rate: float | None = Field(description="redeemed / issued; null when nothing was issued")
    orders: int = Field(description="Orders that used the campaign (an order counts once)")
    revenue: int = Field(description="What those orders paid, net of partial refunds (minor units)")
    discount_cost: DiscountCost
    average_order_value: int | None
    roi: float | None = Field(description="(revenue - discount cost) / discount cost; null without cost")


class Day(BaseModel):
    date: str
    redeemed: int
    orders: int
    revenue: int
    discount_cost: DiscountCost


class VariantStats(Figures):
    name: str
    discount: dict[str, Any] | None
    weight: float
    control: bool = Field(description="A variant with no discount: the control group")
    revenue_per_issued: int | None
    incremental_revenue: int | None = Field(
        description="(revenue per issued - the control's) x issued; null without a control"
    )


class CampaignStatsPublic(Figures):
    campaign_id: str
    currency: str
    from_: str = Field(alias="from", description="First day (YYYY-MM-DD, the shop's time zone)")
    to: str = Field(description="Last day, inclusive")
    timezone: str
    claimed: int = Field(description="Coupons claimed from the coupon center in the period")
    daily: list[Day]
    variants: list[VariantStats] = Field(description="Per variant of an A/B campaign (else empty)")
    p_value: float | None = Field(description="Two-proportion z-test of issued -> redeemed")
    z: float | None = None
    winner: str | None = Field(description="Only when p < 0.05 and every variant has min_sample issued")
    compared: list[str] | None = None
    srm_p_value: float | None = Field(description="Chi-square of issued per variant against the weights")
    incremental_revenue: int | None
    min_sample: int

    model_config = {"populate_by_name": True}


class StoreOwed(BaseModel):
    store_id: str
    currency: str
    amount: int = Field(description="Discount of platform coupons on the store's lines, net of rollbacks")


class SettlementPublic(BaseModel):
    from_: str = Field(alias="from")
    to: str
    timezone: str
    stores: list[StoreOwed]
    totals: dict[str, int] = Field(description="Per currency")

    model_config = {"populate_by_name": True}
