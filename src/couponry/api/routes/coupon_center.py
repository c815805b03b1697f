"""The coupon center: listing what is claimable for a page and a customer, and claiming it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, IdempotencyKey, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.campaigns import Discount
from couponry.services.checkout.idempotency import check_key
from couponry.services.distribution import claims

router = APIRouter(prefix="/v1", tags=["coupon center"], responses=PROBLEMS)

Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CenterItem(BaseModel):
    campaign_id: str
    name: str
    discount: Discount
    currency: str
    remaining: int | None = Field(description="Coupons left to claim; null: no limit")
    starts_at: datetime | None
    ends_at: datetime | None = Field(description="When the claim window ends")
    per_customer: int
    claimed_by_customer: int | None = Field(description="This customer's claims (null without customer_id)")
    claimable: bool = Field(description="Whether this customer can claim it now")
    reason: str | None = Field(
        description="Why not: out_of_stock | claim_limit_reached | claim_not_open | not_claimable"
    )


class CenterPage(BaseModel):
    items: list[CenterItem]


class ClaimRequest(BaseModel):
    customer_id: Id


class ClaimedCoupon(BaseModel):
    code: str
    campaign_id: str
    customer_id: str
    valid_until: datetime | None = Field(
        description="The coupon's end; a relative validity counts from the claim"
    )


@router.get("/coupon-center", response_model=CenterPage)
def coupon_center(
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    product_id: Annotated[str | None, Query(min_length=1)] = None,
    category: Annotated[str | None, Query(min_length=1)] = None,
) -> Any:
    """Campaigns customers may claim, for a product or category page (campaigns whose claim offer names
    no product or category are listed everywhere). A sold-out campaign stays listed, not claimable,
    until its claim window ends. Without `customer_id`, `claimable` judges only the campaign."""
    return claims.coupon_center(
        db, actor, customer_id=customer_id, product_id=product_id, category=category, now=now
    )


@router.post(
    "/campaigns/{campaign_id}/claims",
    status_code=201,
    response_model=ClaimedCoupon,
    responses={409: PROBLEMS[409] | {"description": "out_of_stock | claim_limit_reached | claim_not_open | "
                                     "not_claimable | idempotency_conflict"}},
)  # fmt: skip
def claim(
    campaign_id: str, body: ClaimRequest, db: DbDep, actor: ActorDep, now: NowDep, key: IdempotencyKey = None
) -> Any:
    """Claim one personal coupon of the campaign for the customer (it is then in the wallet)."""
    status, result = claims.claim(db, actor, campaign_id, body.customer_id, now, check_key(key))
    return JSONResponse(result, status_code=status)
