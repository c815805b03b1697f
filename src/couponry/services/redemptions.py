"""Redeeming codes for an order: all or nothing, exactly once, never past a limit.

One transaction: read the coupons, price the cart, write the redemption and its per-line allocation,
then take one use of every code with guarded UPDATEs (adapters.db.usage). The writes that lock hot rows
come last, so a hot open code's row lock is held for as short a time as possible. Any refusal raises
and rolls the whole transaction back: nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import load_snapshots
from couponry.adapters.db.tables import redemption_codes, redemption_lines, redemptions
from couponry.adapters.db.usage import LimitReached, Usage, take
from couponry.domain.cart import Cart
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.errors import Conflict, RedemptionRefused
from couponry.domain.outcomes import PricingResult
from couponry.domain.pricing import price
from couponry.domain.reasons import MESSAGES
from couponry.services import idempotency
from couponry.services.actors import Actor, Permission
from couponry.services.bodies import validation_body
from couponry.services.ids import new_id


@dataclass(frozen=True)
class RedemptionRequest:
    order_id: str
    cart: Cart
    codes: tuple[str, ...]
    customer_id: str | None
    payload: dict[str, Any] = field(repr=False)  # the body as received: hashed for idempotency
    reservation_id: str | None = None


def refusal(body: dict[str, Any]) -> RedemptionRefused:
    refused = [c for c in body["codes"] if not c["valid"]]
    detail = "; ".join(f"{c['code']}: {c['reason']}" for c in refused) or "no code was given"
    return RedemptionRefused(f"nothing was redeemed ({detail})", codes=body["codes"], validation=body)


def price_for(
    conn: Connection, req: RedemptionRequest, now: datetime
) -> tuple[PricingResult, dict[str, Any], set[str]]:
    """The priced cart, its validation body, and which of its campaigns count uses on their row."""
    snapshots, customer = load_snapshots(conn, req.codes, req.customer_id)
    result = price(req.cart, snapshots, customer, now)
    body = validation_body(result, req.codes)
    if not result.valid:
        raise refusal(body)
    tracked = {
        s.rules.id
        for s in snapshots
        if isinstance(s, CouponSnapshot)
        and (s.rules.limits.max_redemptions is not None or s.rules.limits.budget is not None)
    }
    return result, body, tracked


def usages_of(result: PricingResult, customer_id: str | None, tracked: set[str]) -> list[Usage]:
    return [
        Usage(
            o.campaign_id or "",
            o.code,
            o.discount + o.shipping_discount,
            customer_id,
            o.campaign_id in tracked,
        )
        for o in result.codes
    ]


def take_or_refuse(conn: Connection, usages: Sequence[Usage], body: dict[str, Any], *, hold: bool) -> None:
    """Take the usage; a limit lost to a concurrent request refuses the code that lost it."""
    try:
        take(conn, usages, hold=hold)
    except LimitReached as lost:
        index = [u.code for u in usages].index(lost.code)
        codes = list(body["codes"])
        codes[index] = {
            "code": codes[index]["code"],
            "valid": False,
            "reason": str(lost.reason),
            "message": MESSAGES[lost.reason],
            "campaign_id": usages[index].campaign_id,
        }
        raise refusal({**body, "codes": codes, "valid": False}) from None


def store_redemption(
    conn: Connection,
    redemption_id: str,
    req: RedemptionRequest,
    result: PricingResult,
    body: dict[str, Any],
    now: datetime,
    reservation_id: str | None = None,
) -> None:
    """The redemption, one row per code, and one row per code and line with who bears the cost."""
    quantities = {line.id: line.quantity for line in req.cart.lines}
    try:
        conn.execute(
            insert(redemptions).values(
                id=redemption_id,
                order_id=req.order_id,
                customer_id=req.customer_id,
                status="succeeded",
                reservation_id=reservation_id,
                currency=result.currency,
                result=body,
                channel=req.cart.channel,
                created_at=now,
            )
        )
        code_rows = [
            {
                "redemption_id": redemption_id,
                "code": o.code,
                "campaign_id": o.campaign_id,
                "order_id": req.order_id,
                "active": True,
                "issuer": o.issuer_key or "platform",
                "discount": o.discount,
                "shipping_discount": o.shipping_discount,
                "created_at": now,
            }
            for o in result.codes
        ]
        # a single row goes as one statement: a one-row executemany costs psycopg an extra round trip
        conn.execute(insert(redemption_codes), code_rows[0] if len(code_rows) == 1 else code_rows)
        line_rows = [
            {
                "redemption_id": redemption_id,
                "code": o.code,
                "line_id": ld.line_id,
                "store_id": ld.store_id,
                "borne_by": (o.issuer_key or "platform").removeprefix("store:"),
                "quantity": quantities[ld.line_id],
                "discount": ld.discount,
            }
            for o in result.codes
            for ld in o.lines
            if ld.discount
        ]
        if line_rows:
            conn.execute(insert(redemption_lines), line_rows[0] if len(line_rows) == 1 else line_rows)
    except IntegrityError as exc:
        raise Conflict(
            f"order {req.order_id} has already redeemed one of these codes", code="already_redeemed"
        ) from exc


def redemption_body(
    redemption_id: str,
    req: RedemptionRequest,
    validation: dict[str, Any],
    now: datetime,
    reservation_id: str | None,
) -> dict[str, Any]:
    return {
        "id": redemption_id,
        "order_id": req.order_id,
        "status": "succeeded",
        "customer_id": req.customer_id,
        "reservation_id": reservation_id,
        "created_at": now.isoformat(),
        **validation,
    }


def _redeem_fresh(
    conn: Connection,
    req: RedemptionRequest,
    now: datetime,
    before_locks: Callable[[dict[str, Any]], None],
    reservation_id: str | None = None,
) -> dict[str, Any]:
    result, validation, tracked = price_for(conn, req, now)
    redemption_id = new_id()
    body = redemption_body(redemption_id, req, validation, now, reservation_id)
    before_locks(body)
    store_redemption(conn, redemption_id, req, result, validation, now, reservation_id)
    take_or_refuse(conn, usages_of(result, req.customer_id, tracked), body, hold=False)
    return body


def redeem(
    db: Database, actor: Actor, req: RedemptionRequest, now: datetime, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    """201 and the redemption, or RedemptionRefused; a retried Idempotency-Key gets the first answer."""
    actor.require(Permission.REDEEM)
    from couponry.services.reservations import confirm_reservation

    req_hash = idempotency.request_hash("redemptions", req.payload)

    def remember(body: dict[str, Any]) -> None:
        if key:
            idempotency.record(conn, actor.key_id, key, "redemptions", req_hash, 201, body, now)

    try:
        with db.write() as conn:
            if key:
                idempotency.find(conn, actor.key_id, key, req_hash)
            if req.reservation_id:
                body = confirm_reservation(conn, req, now, remember)
            else:
                body = _redeem_fresh(conn, req, now, remember)
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
    from couponry.services.rollbacks import load_body

    actor.require(Permission.READ_REDEMPTIONS)
    with db.read() as conn:
        return load_body(conn, actor, redemption_id)


def find_redemptions(db: Database, actor: Actor, order_id: str) -> list[dict[str, Any]]:
    from couponry.services.rollbacks import load_body

    actor.require(Permission.READ_REDEMPTIONS)
    with db.read() as conn:
        ids = conn.execute(
            select(redemptions.c.id)
            .where(redemptions.c.order_id == order_id)
            .order_by(redemptions.c.created_at)
        ).scalars()
        return [load_body(conn, actor, i) for i in ids]
