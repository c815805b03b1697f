"""Holds: a reservation keeps an order's codes for a while, counting against every limit.

A hold is taken with the same guarded UPDATEs as a redemption, on the held_* counters. Confirming it
moves held to redeemed without a guard, so an order's own hold can never refuse its confirmation.
A hold past its expiry is released by `expire_holds`, which every server process runs periodically;
the conditional status change (held -> expired) makes each release happen exactly once.

A hold belongs to the key that made it: only that key, another key of its store, or an admin may
confirm or release it. To any other key it does not exist (404), so reservation ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, or_, select, true, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import reservations
from couponry.adapters.db.usage import Usage, confirm_holds, give_back
from couponry.domain.cart import Cart, CartLine
from couponry.domain.codes import normalize
from couponry.domain.errors import Conflict, InvalidInput, InvalidState, NotFound
from couponry.domain.outcomes import CodeOutcome, LineDiscount, PricingResult
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.checkout import idempotency
from couponry.services.checkout.orders import (
    RedemptionRequest,
    price_for,
    redeem_fresh,
    redemption_body,
    refusal,
    store_redemption,
    take_or_refuse,
    usages_of,
)
from couponry.services.ids import new_id


def _held_codes(result: PricingResult) -> list[dict[str, Any]]:
    return [
        {
            "code": o.code,
            "campaign_id": o.campaign_id,
            "issuer": o.issuer_key,
            "discount": o.discount,
            "shipping_discount": o.shipping_discount,
            "lines": [[ld.line_id, ld.discount, ld.store_id] for ld in o.lines],
        }
        for o in result.codes
    ]


def _result_from_held(held: list[dict[str, Any]], currency: str) -> PricingResult:
    outcomes = tuple(
        CodeOutcome(
            code=h["code"],
            valid=True,
            campaign_id=h["campaign_id"],
            discount=h["discount"],
            shipping_discount=h["shipping_discount"],
            lines=tuple(LineDiscount(line_id, d, store) for line_id, d, store in h["lines"]),
            issuer_key=h["issuer"],
        )
        for h in held
    )
    return PricingResult(currency, 0, 0, 0, 0, outcomes, ())


def _usages(held: list[dict[str, Any]], customer_id: str | None) -> list[Usage]:
    return [
        Usage(h["campaign_id"], h["code"], h["discount"] + h["shipping_discount"], customer_id) for h in held
    ]


def reserve(
    db: Database,
    actor: Actor,
    req: RedemptionRequest,
    ttl_seconds: int,
    now: datetime,
    key: str | None = None,
) -> tuple[int, dict[str, Any]]:
    actor.require(Permission.RESERVE)
    req = replace(req, store_scope=actor.store_scope)
    if not 1 <= ttl_seconds <= 7 * 24 * 3600:
        raise InvalidInput("ttl_seconds", "must be between 1 second and 7 days")
    req_hash = idempotency.request_hash("reservations", req.payload) if key else ""
    try:
        with db.write() as conn:
            if key:
                idempotency.find(conn, actor.key_id, key, req_hash)
            result, validation, tracked = price_for(conn, req, now)
            reservation_id = new_id()
            expires_at = now + timedelta(seconds=ttl_seconds)
            body = {
                "id": reservation_id,
                "order_id": req.order_id,
                "status": "held",
                "customer_id": req.customer_id,
                "expires_at": expires_at.isoformat(),
                **validation,
            }
            if key:
                idempotency.record(conn, actor.key_id, key, "reservations", req_hash, 201, body, now)
            conn.execute(
                insert(reservations).values(
                    id=reservation_id,
                    order_id=req.order_id,
                    customer_id=req.customer_id,
                    status="held",
                    codes=_held_codes(result),
                    result=validation,
                    cart=req.cart.as_json(),
                    expires_at=expires_at,
                    created_at=now,
                    created_by=actor.key_id,
                    store_id=actor.store_scope,
                )
            )
            take_or_refuse(conn, usages_of(result, req.customer_id, tracked), body, hold=True)
            return 201, body
    except idempotency.Replay as replay:
        if replay.status == 409:
            raise refusal(replay.response) from None
        return replay.status, replay.response


def _cart_from(stored: dict[str, Any]) -> Cart:
    return Cart(
        currency=stored["currency"],
        lines=tuple(CartLine(**line) for line in stored["lines"]),
        shipping=stored["shipping"],
        channel=stored["channel"],
        shipping_country=stored["shipping_country"],
    )


def held_by(actor: Actor) -> ColumnElement[bool]:
    """The reservations `actor` may confirm or release: its own, its store's, or any for an admin."""
    if actor.role is Role.ADMIN:
        return true()
    if actor.store_scope is not None:
        return or_(reservations.c.created_by == actor.key_id, reservations.c.store_id == actor.store_scope)
    return reservations.c.created_by == actor.key_id


def confirm_reservation(
    conn: Connection,
    actor: Actor,
    req: RedemptionRequest,
    now: datetime,
    before_locks: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Turn a live hold into a redemption; a hold that expired or was released is redeemed afresh,
    with every limit checked again. The reserved cart is used when the request carries none."""
    mine = held_by(actor)
    row = conn.execute(
        update(reservations)
        .where(reservations.c.id == req.reservation_id, reservations.c.status == "held", mine)
        .values(status="consumed")
        .returning(*reservations.c)
    ).first()
    if row is None:
        row = conn.execute(select(reservations).where(reservations.c.id == req.reservation_id, mine)).first()
        if row is None:
            raise NotFound(f"no reservation {req.reservation_id}")
        if row.status == "consumed":
            raise InvalidState("this reservation was already redeemed", code="reservation_consumed")
        _check_same_order(row.order_id, req)
        conn.execute(
            update(reservations).where(reservations.c.id == req.reservation_id).values(status="consumed")
        )
        codes = req.codes or tuple(h["code"] for h in row.codes)
        again = RedemptionRequest(
            req.order_id,
            req.cart or _cart_from(row.cart),
            codes,
            row.customer_id,
            req.payload,
            req.reservation_id,
            req.store_scope,
        )
        return redeem_fresh(conn, again, now, before_locks, req.reservation_id)
    _check_same_order(row.order_id, req)
    if req.codes and {normalize(c) for c in req.codes} != {h["code"] for h in row.codes}:
        raise Conflict("the codes differ from the reserved ones", code="reservation_mismatch")
    if req.customer_id is not None and req.customer_id != row.customer_id:
        raise Conflict("the customer differs from the reservation's", code="reservation_mismatch")
    redemption_id = new_id()
    held = RedemptionRequest(
        req.order_id, _cart_from(row.cart), (), row.customer_id, req.payload, req.reservation_id
    )
    body = redemption_body(redemption_id, held, row.result, now, req.reservation_id)
    before_locks(body)
    result = _result_from_held(row.codes, row.result["currency"])
    store_redemption(conn, redemption_id, held, result, row.result, now, req.reservation_id)
    confirm_holds(conn, _usages(row.codes, row.customer_id))
    return body


def _check_same_order(order_id: str, req: RedemptionRequest) -> None:
    if order_id != req.order_id:
        raise Conflict(f"reservation belongs to order {order_id}", code="reservation_mismatch")


def release_reservation(db: Database, actor: Actor, reservation_id: str, now: datetime) -> dict[str, Any]:
    actor.require(Permission.RESERVE)
    mine = held_by(actor)
    with db.write() as conn:
        row = conn.execute(
            update(reservations)
            .where(reservations.c.id == reservation_id, reservations.c.status == "held", mine)
            .values(status="released")
            .returning(reservations.c.codes, reservations.c.customer_id)
        ).first()
        if row is None:
            status = conn.execute(
                select(reservations.c.status).where(reservations.c.id == reservation_id, mine)
            ).scalar_one_or_none()
            if status is None:
                raise NotFound(f"no reservation {reservation_id}")
            return {"id": reservation_id, "status": status}
        give_back(conn, _usages(row.codes, row.customer_id), held=True)
        return {"id": reservation_id, "status": "released"}


def expire_holds(db: Database, now: datetime, batch: int = 500) -> int:
    """Release holds past their expiry; safe to run from several processes at once."""
    released = 0
    while True:
        with db.write() as conn:
            ids = (
                conn.execute(
                    select(reservations.c.id)
                    .where(reservations.c.status == "held", reservations.c.expires_at < now)
                    .order_by(reservations.c.expires_at)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if not ids:
                return released
            rows = conn.execute(
                update(reservations)
                .where(reservations.c.id.in_(ids), reservations.c.status == "held")
                .values(status="expired")
                .returning(reservations.c.codes, reservations.c.customer_id)
            ).all()
            for row in rows:
                give_back(conn, _usages(row.codes, row.customer_id), held=True)
            released += len(rows)
        if len(ids) < batch:
            return released
