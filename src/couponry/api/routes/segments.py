from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.problems import validation_code
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import ResourceIdPath
from couponry.services.distribution import segments

router = APIRouter(prefix="/v1", tags=["segments"], responses=PROBLEMS)


class RuleIn(BaseModel):
    field: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="order_count, total_spent, days_since_signup, days_since_last_order, birthday_month, "
        "tags, marketing_consent or attributes.NAME"
    )
    op: Annotated[str, StringConstraints(min_length=1, max_length=20)] = Field(
        description="eq, ne, gt, gte, lt, lte, contains or in"
    )
    value: Any


class SegmentIn(BaseModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    match: Literal["all", "any"] = "all"
    rules: Annotated[list[RuleIn], Field(max_length=50)]


@router.post("/segments", status_code=201)
@validation_code("invalid_segment")
def create_segment(body: SegmentIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """A segment of customers; unknown fields or ops, or values of the wrong type: 422 invalid_segment."""
    return segments.create_segment(db, actor, body.model_dump(), now)


@router.get("/segments/{segment_id}")
def get_segment(segment_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return segments.get_segment(db, actor, segment_id)


@router.get("/segments/{segment_id}/customers")
def segment_customers(
    segment_id: ResourceIdPath,
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=0, le=segments.MAX_PAGE)] = 100,
) -> Any:
    """`count`: the members now; `items`: the first `limit` of them, in id order."""
    return segments.segment_customers(db, actor, segment_id, limit=limit, now=now)
