"""The public feed of public codes (no key): what a shop wants listed on coupon sites."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from couponry.api.deps import DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.services.campaigns.public_feed import public_coupons

router = APIRouter(prefix="/v1/public", tags=["public"], responses={422: PROBLEMS[422]})


class PublicTerms(BaseModel):
    min_spend: int | None
    min_quantity: int | None
    first_order_only: bool
    channels: list[str]
    starts_at: str | None
    ends_at: str | None
    per_customer: int | None
    scope: dict[str, Any]


class PublicCoupon(BaseModel):
    campaign_id: str
    name: str
    codes: list[str]
    currency: str
    discount: dict[str, Any]
    summary: str
    terms: PublicTerms


class PublicCouponPage(BaseModel):
    items: list[PublicCoupon]
    next_cursor: str | None = None


@router.get("/coupons", response_model=PublicCouponPage)
def list_public_coupons(
    db: DbDep,
    now: NowDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """Active campaigns marked `"public": true`, each with up to 20 open codes and its terms."""
    items, next_cursor = public_coupons(db, now, limit, cursor)
    response.headers["Cache-Control"] = "public, max-age=60"
    return {"items": items, "next_cursor": next_cursor}
