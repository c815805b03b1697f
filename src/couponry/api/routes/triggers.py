from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.domain.triggers import EVENTS, MAX_CAMPAIGNS, MAX_PER_CUSTOMER
from couponry.services.distribution import referrals, triggers

router = APIRouter(prefix="/v1", tags=["triggers and referrals"], responses=PROBLEMS)

Id = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal[EVENTS] = Field(  # type: ignore[valid-type]
        description="customer.created, order.completed, birthday, signup_anniversary, referral.completed "
        "or welcome.unused"
    )
    campaign_ids: list[Id] = Field(
        min_length=1, max_length=MAX_CAMPAIGNS, description="One coupon of each campaign per reward"
    )
    min_amount: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        None, description="order.completed only: the order amount (minor units) it takes"
    )
    per_customer: Annotated[int, Field(strict=True, ge=1, le=MAX_PER_CUSTOMER)] = Field(
        1, description="How often one customer can be rewarded (per year for birthday and anniversary)"
    )
    after_trigger_id: Id | None = Field(None, description="welcome.unused: the trigger of the first package")
    days: Annotated[int, Field(strict=True, ge=1, le=3650)] | None = Field(
        None, description="welcome.unused: days after the first package"
    )


class ReferralProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_on: Literal["signup", "first_order"]
    inviter_campaign_id: Id | None = None
    invitee_campaign_id: Id | None = None
    inviter_points: Annotated[int, Field(strict=True, ge=0)] = Field(
        0, description="Recorded on each reward; credited once the loyalty program exists"
    )


@router.post("/triggers", status_code=201)
def create_trigger(body: TriggerIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """An unknown campaign: 422 unknown_campaign; an unknown first-package trigger: 422 unknown_trigger."""
    return triggers.create_trigger(db, actor, body.model_dump(), now)


@router.get("/triggers")
def list_triggers(db: DbDep, actor: ActorDep) -> Any:
    return {"items": triggers.list_triggers(db, actor)}


@router.get("/triggers/{trigger_id}")
def get_trigger(trigger_id: str, db: DbDep, actor: ActorDep) -> Any:
    return triggers.get_trigger(db, actor, trigger_id)


@router.delete("/triggers/{trigger_id}", status_code=204)
def delete_trigger(trigger_id: str, db: DbDep, actor: ActorDep, now: NowDep) -> Response:
    """The trigger stops firing; the coupons it issued stay."""
    triggers.delete_trigger(db, actor, trigger_id, now)
    return Response(status_code=204)


@router.put("/referral-program")
def put_referral_program(body: ReferralProgramIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """An unknown campaign: 422 unknown_campaign."""
    return referrals.put_program(db, actor, body.model_dump(), now)


@router.get("/referral-program")
def get_referral_program(db: DbDep, actor: ActorDep) -> Any:
    return referrals.get_program(db, actor)
