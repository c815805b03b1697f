from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.services.campaigns import coupons
from couponry.services.customers import customers

router = APIRouter(prefix="/v1", tags=["customers"], responses=PROBLEMS)


class CustomerIn(BaseModel):
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    birthday: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = []
    attributes: dict[str, Any] = {}
    marketing_consent: bool = False
    signed_up_at: AwareDatetime | None = Field(None, description="Default: the time of the first PUT")
    referred_by: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        None, description="Another customer's referral code; taken on the customer's first PUT only"
    )


class EventIn(BaseModel):
    type: Literal["order.completed", "order.refunded", "customer.created"]
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    amount: Annotated[int, Field(strict=True, ge=0)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    occurred_at: AwareDatetime | None = Field(None, description="When it happened (default: when received)")


@router.put("/customers/{customer_id}")
def put_customer(
    customer_id: str, body: CustomerIn, db: DbDep, actor: ActorDep, now: NowDep, response: Response
) -> Any:
    created, result = customers.put_customer(db, actor, customer_id, body.model_dump(), now)
    response.status_code = 201 if created else 200
    return result


@router.get("/customers/{customer_id}")
def get_customer(customer_id: str, db: DbDep, actor: ActorDep) -> Any:
    return customers.get_customer(db, actor, customer_id)


@router.get("/customers/{customer_id}/wallet")
def get_wallet(customer_id: str, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    return {"customer_id": customer_id, "items": coupons.wallet(db, actor, customer_id, now)}


@router.post("/events", status_code=202)
def post_event(body: EventIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    return customers.record_event(db, actor, body.model_dump(exclude_none=True), now)
