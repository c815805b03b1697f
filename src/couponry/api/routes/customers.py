from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from couponry.adapters.db.engine import Database
from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.fast_path import Common, HotRoute
from couponry.api.responses import PROBLEMS, Json
from couponry.api.schemas.common import Cursor, CustomerIdPath
from couponry.api.schemas.customers import CustomerIn, EventIn
from couponry.api.threads import in_pool, in_thread
from couponry.services.access.actors import Actor
from couponry.services.campaigns import coupons
from couponry.services.customers import customers
from couponry.services.ids import utcnow

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
async def post_event(request: Request, body: EventIn, actor: ActorDep) -> Any:
    return Json(await in_thread(request, _record_event, request.app.state.db, actor, body), status_code=202)


def _record_event(db: Database, actor: Actor, body: EventIn) -> dict[str, Any]:
    return customers.record_event(db, actor, body.model_dump(exclude_none=True), utcnow())


async def _fast_event(common: Common[EventIn]) -> tuple[int, bytes]:
    """Order events come as fast as orders are taken: the fast path's common case (api/fast_path)."""
    state = common.app.state
    if state.loop_reads is not None and common.body.type == "order.completed":  # PostgreSQL
        event = common.body.model_dump(exclude_none=True)
        answer = await customers.record_order_alone(state.loop_reads, state.db, common.actor, event, utcnow())
        if answer is not None:
            return 202, orjson.dumps(answer)
    return 202, orjson.dumps(await in_pool(state.threads, _record_event, state.db, common.actor, common.body))


FAST_PATHS = [HotRoute("/v1/events", EventIn, _fast_event)]
