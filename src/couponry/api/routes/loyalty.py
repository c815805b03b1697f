"""The loyalty program: settings, membership, points and ledger, adjustments, rewards, prize wheels."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS, _problem
from couponry.api.schemas.common import CustomerIdPath, ResourceIdPath
from couponry.api.schemas.loyalty import (
    AdjustmentIn,
    CustomerRef,
    EntryOut,
    ExchangeOut,
    LedgerOut,
    MembershipOut,
    PointsOut,
    ProgramIn,
    ProgramOut,
    RewardIn,
    RewardList,
    RewardOut,
    SpinOut,
    WheelIn,
    WheelList,
    WheelOut,
)
from couponry.domain.errors import InvalidInput
from couponry.services.loyalty import program, rewards, wheels

router = APIRouter(prefix="/v1", tags=["loyalty"], responses=PROBLEMS)

REFUSED = {
    409: _problem(
        "Refused, nothing written: `insufficient_points`, `out_of_stock`, `not_a_member` or `no_spins_left`"
    )
}


@router.put("/loyalty/program", response_model=ProgramOut)
def put_program(body: ProgramIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """Create or replace the program (admin); it applies to orders completed from now on."""
    return program.put_program(db, actor, body.model_dump(), now)


@router.get("/loyalty/program", response_model=ProgramOut)
def get_program(db: DbDep, actor: ActorDep) -> Any:
    """404 before the first PUT."""
    return program.get_program(db, actor)


@router.post("/customers/{customer_id}/loyalty", response_model=MembershipOut, status_code=201)
def join(customer_id: CustomerIdPath, db: DbDep, actor: ActorDep, now: NowDep, response: Response) -> Any:
    """The customer joins the program: 201, or 200 if already a member."""
    joined, body = program.join(db, actor, customer_id, now)
    response.status_code = 201 if joined else 200
    return body


@router.delete("/customers/{customer_id}/loyalty", status_code=204)
def leave(customer_id: CustomerIdPath, db: DbDep, actor: ActorDep, now: NowDep) -> Response:
    """The customer leaves: no more earning, exchanges or spins; 404 if not a member."""
    program.leave(db, actor, customer_id, now)
    return Response(status_code=204)


@router.get("/customers/{customer_id}/points", response_model=PointsOut)
def get_points(customer_id: CustomerIdPath, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """Pending, available and lifetime points: always the sums of the customer's ledger."""
    return program.points(db, actor, customer_id, now)


@router.get("/customers/{customer_id}/points/ledger", response_model=LedgerOut)
def get_ledger(
    customer_id: CustomerIdPath,
    db: DbDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d{1,19}$")] = None,
) -> Any:
    """The entries, oldest first; pass `next_cursor` as `cursor` for the next page."""
    after = int(cursor) if cursor is not None else None
    if after is not None and after > 2**63 - 1:
        raise InvalidInput("cursor", "is not a cursor this endpoint gave")
    items, next_cursor = program.ledger(db, actor, customer_id, limit, after)
    return {"customer_id": customer_id, "items": items, "next_cursor": next_cursor}


@router.post("/loyalty/adjustments", response_model=EntryOut, status_code=201, responses=REFUSED)
def adjust(body: AdjustmentIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """An admin's correction, as an `adjusted` entry; a negative one takes only available points."""
    return program.adjust(db, actor, body.model_dump(), now)


@router.post("/rewards", response_model=RewardOut, status_code=201)
def create_reward(body: RewardIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """An unknown campaign: 422 unknown_campaign."""
    return rewards.create_reward(db, actor, body.model_dump(), now)


@router.get("/rewards", response_model=RewardList)
def list_rewards(db: DbDep, actor: ActorDep) -> Any:
    return {"items": rewards.list_rewards(db, actor)}


@router.get("/rewards/{reward_id}", response_model=RewardOut)
def get_reward(reward_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return rewards.get_reward(db, actor, reward_id)


@router.post("/rewards/{reward_id}/exchanges", response_model=ExchangeOut, status_code=201, responses=REFUSED)
def exchange(reward_id: ResourceIdPath, body: CustomerRef, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """Points for a coupon of the reward's campaign."""
    return rewards.exchange(db, actor, reward_id, body.customer_id, now)


@router.post("/wheels", response_model=WheelOut, status_code=201)
def create_wheel(body: WheelIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    return wheels.create_wheel(db, actor, body.model_dump(), now)


@router.get("/wheels", response_model=WheelList)
def list_wheels(db: DbDep, actor: ActorDep) -> Any:
    return {"items": wheels.list_wheels(db, actor)}


@router.get("/wheels/{wheel_id}", response_model=WheelOut)
def get_wheel(wheel_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return wheels.get_wheel(db, actor, wheel_id)


@router.post("/wheels/{wheel_id}/spins", response_model=SpinOut, status_code=201, responses=REFUSED)
def spin(
    wheel_id: ResourceIdPath, body: CustomerRef, db: DbDep, actor: ActorDep, now: NowDep, request: Request
) -> Any:
    """One spin: a free spin of the day if one is left, else the wheel's cost in points."""
    zone = ZoneInfo(request.app.state.settings.shop_timezone)
    return wheels.spin(db, actor, wheel_id, body.customer_id, now, zone)
