"""Validation, best coupons, reservations, redemptions and rollbacks: the checkout path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from couponry.adapters.db.engine import Database, WriterBusy
from couponry.adapters.throttle import RedisThrottle
from couponry.api.deps import (
    ActorDep,
    CodeLookups,
    DbDep,
    IdempotencyKey,
    NowDep,
    get_actor,
    get_lookups,
)
from couponry.api.fast_path import Common, HotRoute
from couponry.api.metrics import REDEMPTIONS
from couponry.api.responses import PROBLEMS, Json
from couponry.api.schemas.carts import (
    BestCouponsIn,
    RedemptionIn,
    RedemptionOut,
    ReservationIn,
    ReservationOut,
    RollbackIn,
    ValidationIn,
    ValidationOut,
    ValidationRequest,
    parse_validation,
)
from couponry.api.schemas.common import ResourceIdPath
from couponry.api.threads import in_pool, in_thread
from couponry.domain.cart import Cart
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import Actor
from couponry.services.checkout import redemptions, reservations, rollbacks, validations
from couponry.services.checkout.idempotency import check_key
from couponry.services.checkout.orders import RedemptionRequest
from couponry.services.ids import utcnow

router = APIRouter(prefix="/v1", tags=["checkout"], responses=PROBLEMS)

# Validation, redemption and reservation are the hot path: `async def` endpoints that hand their whole
# use case to the request pool in one hop (api.threads) and answer pre-serialized JSON (responses.Json).
# Validation and redemption answer their common case through a fast path in front of the framework
# (api.fast_path, see FAST_PATHS below); anything else comes to the endpoints as declared. They declare
# one dependency for the caller's key and throttle guard instead of one per piece: FastAPI's solving of
# each declared dependency cost more CPU than the dependency's own work. Being a dependency, it still
# answers 401 before the body is validated.


async def get_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> tuple[Actor, CodeLookups]:
    actor = await get_actor(request, authorization)
    return actor, await get_lookups(request, actor)


CallerDep = Annotated[tuple[Actor, CodeLookups], Depends(get_caller)]


def _request(body: RedemptionIn | ReservationIn, key: str | None) -> RedemptionRequest:
    # the body as received, for the Idempotency-Key's hash: only needed with a key
    payload = body.model_dump(mode="json", exclude_none=True) if key else {}
    cart = body.cart.to_domain() if body.cart is not None else None
    return RedemptionRequest(
        order_id=body.order_id,
        cart=cart,  # type: ignore[arg-type]  # only None when confirming a reservation
        codes=tuple(body.codes),
        customer_id=body.customer_id,
        payload=payload,
        reservation_id=getattr(body, "reservation_id", None),
    )


async def _fast_validate(common: Common[ValidationRequest]) -> tuple[int, bytes]:
    state, now, body, lookups = common.app.state, utcnow(), common.body, common.lookups
    db: Database = state.db
    cart, codes, customer_id = body.cart, body.codes, body.customer_id
    if isinstance(lookups.throttle, RedisThrottle):  # its guard talks to Redis: blocking, in a thread
        args = (db, common.actor, lookups, cart, codes, customer_id, now)
        return 200, orjson.dumps(await in_pool(state.threads, _validate, *args))
    with lookups.guard(len(codes)):  # in memory: no I/O on the loop
        loaded = None
        if state.loop_reads is not None:  # PostgreSQL: its one query on the async driver, no thread
            loaded = await validations.read_coupons_on_loop(
                state.loop_reads, common.actor, codes, customer_id
            )
        if loaded is None and db.is_sqlite:
            # Nothing here can wait: a read of a WAL database never waits for writers and the pool has a
            # connection for every request thread and the loop. Handing it to a thread (submit, wake-up,
            # future callbacks) cost ~15 % of the request's CPU: it runs on the loop.
            loaded = validations.read_coupons(db, common.actor, codes, customer_id, on_loop=True)
        elif loaded is None:
            loaded = await in_pool(
                state.threads, validations.read_coupons, db, common.actor, codes, customer_id
            )
        answer, _ = validations.priced(cart, loaded, codes, now)
        lookups.saw(answer["codes"])
    return 200, orjson.dumps(answer)


@router.post("/validations", response_model=ValidationOut)
async def validate(request: Request, body: ValidationIn, caller: CallerDep) -> Any:
    actor, lookups = caller
    db, now = request.app.state.db, utcnow()
    args = (db, actor, lookups, body.cart.to_domain(), body.codes, body.customer_id, now)
    return Json(await in_thread(request, _validate, *args))


def _validate(
    db: Database,
    actor: Actor,
    lookups: CodeLookups,
    cart: Cart,
    codes: list[str],
    customer_id: str | None,
    now: datetime,
) -> Any:
    with lookups.guard(len(codes)):
        result, _ = validations.validate(db, actor, cart, codes, customer_id, now)
        lookups.saw(result["codes"])
    return result


@router.post("/best-coupons", response_model=ValidationOut)
async def best_coupons(request: Request, body: BestCouponsIn, caller: CallerDep) -> Any:
    actor, lookups = caller
    db, now = request.app.state.db, utcnow()
    return Json(await in_thread(request, _best_coupons, db, actor, lookups, body, now))


def _best_coupons(
    db: Database, actor: Actor, lookups: CodeLookups, body: BestCouponsIn, now: datetime
) -> Any:
    with lookups.guard(len(body.codes)):
        best = validations.best_coupons(db, actor, body.cart.to_domain(), body.customer_id, body.codes, now)
        lookups.failed(best.unknown_codes)
    return best.body


async def _fast_redeem(common: Common[RedemptionIn]) -> tuple[int, bytes]:
    state, now = common.app.state, utcnow()
    db: Database = state.db
    args = (db, common.actor, common.lookups, common.body, now, common.idempotency_key)
    redis = isinstance(common.lookups.throttle, RedisThrottle)  # its guard talks to Redis: on a thread
    if state.loop_reads is not None and common.idempotency_key is None and not redis:
        answer = await _redeem_alone(common, now)  # PostgreSQL's commonest case, on the loop
        if answer is not None:
            return 201, orjson.dumps(answer)
    if db.is_sqlite and not redis:
        # SQLite, nothing that waits: the whole redemption on the loop (the hand-off to a thread cost a
        # fifth of its CPU) unless another connection holds the write lock (adapters.db.engine)
        try:
            with db.writes_without_waiting():
                status, result = _redeem(*args)
            return status, orjson.dumps(result)
        except WriterBusy:
            pass
    status, result = await in_pool(state.threads, _redeem, *args)
    return status, orjson.dumps(result)


async def _redeem_alone(common: Common[RedemptionIn], now: datetime) -> dict[str, Any] | None:
    state, lookups = common.app.state, common.lookups
    try:
        with lookups.guard(len(common.body.codes)):
            answer = await redemptions.redeem_alone(
                state.loop_reads, state.db, common.actor, _request(common.body, None), now
            )
            if answer is None:  # nothing answered: the way that does counts the look-ups
                lookups.failed(0)
                return None
            lookups.saw(answer["codes"])
    except RedemptionRefused:
        REDEMPTIONS.labels("refused").inc()
        raise
    REDEMPTIONS.labels("succeeded").inc()
    return answer


@router.post("/redemptions", status_code=201, response_model=RedemptionOut)
async def redeem(request: Request, body: RedemptionIn, caller: CallerDep, key: IdempotencyKey = None) -> Any:
    actor, lookups = caller
    db, now = request.app.state.db, utcnow()
    status, result = await in_thread(request, _redeem, db, actor, lookups, body, now, key)
    return Json(result, status_code=status)


def _redeem(
    db: Database, actor: Actor, lookups: CodeLookups, body: RedemptionIn, now: datetime, key: str | None
) -> tuple[int, dict[str, Any]]:
    try:
        with lookups.guard(len(body.codes)):
            status, result = redemptions.redeem(db, actor, _request(body, key), now, check_key(key))
            lookups.saw(result["codes"])
    except RedemptionRefused:
        REDEMPTIONS.labels("refused").inc()
        raise
    REDEMPTIONS.labels("succeeded").inc()
    return status, result


@router.get("/redemptions/{redemption_id}", response_model=RedemptionOut)
def get_redemption(redemption_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return JSONResponse(redemptions.get_redemption(db, actor, redemption_id))


@router.get("/redemptions")
def find_redemptions(db: DbDep, actor: ActorDep, order_id: str = Query(min_length=1, max_length=200)) -> Any:
    return JSONResponse({"items": redemptions.find_redemptions(db, actor, order_id)})


@router.post("/redemptions/{redemption_id}/rollback", response_model=RedemptionOut)
def rollback(
    redemption_id: ResourceIdPath,
    body: RollbackIn,
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    key: IdempotencyKey = None,
) -> Any:
    lines = [(line.id, line.quantity) for line in body.lines] if body.lines else None
    result = rollbacks.rollback(
        db, actor, redemption_id, body.reason, lines, now, check_key(key), body.model_dump(mode="json")
    )
    if not lines:
        REDEMPTIONS.labels("rolled_back").inc()
    return JSONResponse(result)


@router.post("/reservations", status_code=201, response_model=ReservationOut)
async def reserve(
    request: Request, body: ReservationIn, caller: CallerDep, key: IdempotencyKey = None
) -> Any:
    actor, lookups = caller
    db, now = request.app.state.db, utcnow()
    status, result = await in_thread(request, _reserve, db, actor, lookups, body, now, key)
    return Json(result, status_code=status)


def _reserve(
    db: Database, actor: Actor, lookups: CodeLookups, body: ReservationIn, now: datetime, key: str | None
) -> tuple[int, dict[str, Any]]:
    with lookups.guard(len(body.codes)):
        status, result = reservations.reserve(
            db, actor, _request(body, key), body.ttl_seconds, now, check_key(key)
        )
        lookups.saw(result["codes"])
    return status, result


@router.delete("/reservations/{reservation_id}")
def release(reservation_id: ResourceIdPath, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    return reservations.release_reservation(db, actor, reservation_id, now)


FAST_PATHS = [
    HotRoute("/v1/validations", ValidationIn, _fast_validate, parse_validation),
    HotRoute("/v1/redemptions", RedemptionIn, _fast_redeem),
]
