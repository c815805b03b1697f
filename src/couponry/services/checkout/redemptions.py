"""Redeeming codes for an order: all or nothing, exactly once, never past a limit.

One transaction (its pieces are in `orders`): read the coupons, price the cart, write the redemption
and its per-line allocation, then take one use of every code with guarded UPDATEs (adapters.db.usage).
The writes that lock hot rows come last, so a hot open code's row lock is held for as short a time as
possible. Any refusal raises and rolls the whole transaction back: nothing is half-written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import select

from couponry.adapters.db import subscriptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.db.snapshots import SnapshotRead
from couponry.adapters.db.tables import redemptions
from couponry.adapters.db.usage import redemption_in_one_statement
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import Actor, Permission
from couponry.services.checkout import idempotency
from couponry.services.checkout.orders import (
    RedemptionRequest,
    TryAgainStepByStep,
    price_loaded,
    redeem_fresh,
    redemption_body,
    redemption_rows,
    refusal,
    usages_of,
)
from couponry.services.checkout.reservations import confirm_reservation
from couponry.services.checkout.rollbacks import load_body, may_access
from couponry.services.ids import new_id


def redeem(
    db: Database, actor: Actor, req: RedemptionRequest, now: datetime, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    """201 and the redemption, or RedemptionRefused; a retried Idempotency-Key gets the first answer."""
    actor.require(Permission.REDEEM)
    req = replace(req, store_scope=actor.store_scope)  # a store key sees only its store's and platform codes
    # the body is only hashed for a key: without one there is nothing to compare it with
    req_hash = idempotency.request_hash("redemptions", req.payload) if key else ""

    def remember(body: dict[str, Any]) -> None:
        if key:
            idempotency.record(conn, actor.key_id, key, "redemptions", req_hash, 201, body, now)

    try:
        # the common case first in one round trip of writes (PostgreSQL); if that cannot say yes, the
        # transaction was rolled back and the step-by-step way runs from the start
        for one_round_trip in (not req.reservation_id, False):
            try:
                with db.write() as conn:
                    if key:
                        idempotency.find(conn, actor.key_id, key, req_hash)
                    if req.reservation_id:
                        body = confirm_reservation(conn, actor, req, now, remember)
                    else:
                        body = redeem_fresh(conn, req, now, remember, one_round_trip=one_round_trip)
                break
            except TryAgainStepByStep:
                continue
    except idempotency.Replay as replay:
        if replay.status == 409:
            raise refusal(replay.response) from None
        return replay.status, replay.response
    except RedemptionRefused as refused:
        if key:
            won = _remember_refusal(db, actor, key, req_hash, refused, now)
            if won is not None:  # a concurrent request with this key redeemed first
                return won.status, won.response
        raise
    return 201, body


async def redeem_alone(
    reads: LoopReads, db: Database, actor: Actor, req: RedemptionRequest, now: datetime
) -> dict[str, Any] | None:
    """PostgreSQL, on the event loop: the commonest redemption (one code, with or without a customer,
    no hold, no Idempotency-Key) as one read and one statement in autocommit (adapters.db.usage.
    redemption_in_one_statement), with no thread and no BEGIN or COMMIT. None when it is not that case,
    when the read would need more than its one query, or when the statement did not go through (a guard
    found no unit where it looked, or the order redeemed the code already): nothing was written, and
    `redeem` decides. A code the prices refuse (unknown, expired ...) raises as `redeem` does."""
    actor.require(Permission.REDEEM)
    if len(req.codes) != 1 or req.reservation_id is not None:
        return None
    types = subscriptions.cached_types(db.engine)
    if types is None or "coupon.redeemed" in types:  # its outbox row belongs in the transaction
        return None
    req = replace(req, store_scope=actor.store_scope)
    plan = SnapshotRead(req.codes, req.customer_id, req.store_scope, postgres=True)
    loaded = plan.finish_without_reading(await reads.fetch(*plan.query()) if plan.wanted else [])
    if loaded is None:  # segments, A/B arms, rules not cached, a customer without a known code ...
        return None
    result, validation, tracked = price_loaded(req, loaded, now)
    (usage,) = usages_of(result, req.customer_id, tracked)
    redemption_id = new_id()
    inserts = redemption_rows(redemption_id, req, result, validation, now, None)
    try:
        await reads.fetch(*redemption_in_one_statement(inserts, usage))
    except (psycopg.errors.DivisionByZero, psycopg.IntegrityError):
        return None
    return redemption_body(redemption_id, req, validation, now, None)


def _remember_refusal(
    db: Database, actor: Actor, key: str, req_hash: str, refused: RedemptionRefused, now: datetime
) -> idempotency.Replay | None:
    """A refusal is an answer too: the same key and body get the same refusal, not a second try.
    Returns the stored success when a concurrent request with the same key got there first."""
    try:
        with db.write() as conn:
            idempotency.record(
                conn, actor.key_id, key, "redemptions", req_hash, 409, refused.extra["validation"], now
            )
    except idempotency.Replay as replay:
        if replay.status != 409:
            return replay
    return None


def get_redemption(db: Database, actor: Actor, redemption_id: str) -> dict[str, Any]:
    actor.require(Permission.READ_REDEMPTIONS)
    with db.read() as conn:
        return load_body(conn, actor, redemption_id)


def find_redemptions(db: Database, actor: Actor, order_id: str) -> list[dict[str, Any]]:
    """The order's redemptions this key may see (a store key: only its own store's, the others are
    left out, so an order id tells it nothing about other stores)."""
    actor.require(Permission.READ_REDEMPTIONS)
    with db.read() as conn:
        ids = (
            conn.execute(
                select(redemptions.c.id)
                .where(redemptions.c.order_id == order_id)
                .order_by(redemptions.c.created_at)
            )
            .scalars()
            .all()
        )
        return [load_body(conn, actor, i) for i in ids if may_access(conn, actor, i)]
