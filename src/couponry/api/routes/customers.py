from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import Cursor, CustomerIdPath
from couponry.api.schemas.customers import CustomerIn, EventIn
from couponry.services.campaigns import coupons
from couponry.services.customers import customers

router = APIRouter(prefix="/v1", tags=["customers"], responses=PROBLEMS)


@router.put("/customers/{customer_id}")
def put_customer(
    customer_id: CustomerIdPath, body: CustomerIn, db: DbDep, actor: ActorDep, now: NowDep, response: Response
) -> Any:
    created, result = customers.put_customer(db, actor, customer_id, body.model_dump(), now)
    response.status_code = 201 if created else 200
    return result


@router.get("/customers/{customer_id}")
def get_customer(customer_id: CustomerIdPath, db: DbDep, actor: ActorDep) -> Any:
    return customers.get_customer(db, actor, customer_id)


@router.get("/customers/{customer_id}/wallet")
def get_wallet(
    customer_id: CustomerIdPath,
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> Any:
    items, next_cursor = coupons.wallet(db, actor, customer_id, now, limit=limit, cursor=cursor)
    return {"customer_id": customer_id, "items": items, "next_cursor": next_cursor}


@router.post("/events", status_code=202)
def post_event(body: EventIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    return customers.record_event(db, actor, body.model_dump(exclude_none=True), now)
