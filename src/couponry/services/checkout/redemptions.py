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

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import redemptions
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import Actor, Permission
from couponry.services.checkout import idempotency
from couponry.services.checkout.orders import RedemptionRequest, TryAgainStepByStep, redeem_fresh, refusal
from couponry.services.checkout.reservations import confirm_reservation
from couponry.services.checkout.rollbacks import load_body, may_access


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
