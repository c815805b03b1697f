"""What redeeming and holding codes for an order share: the request, pricing it against the stored
coupons, writing the redemption with its per-line allocation, and taking usage under the guards.

Both `redemptions` (redeem now) and `reservations` (hold, then confirm) build on these pieces, so
neither imports the other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError

from couponry.adapters.db.snapshots import load_snapshots
from couponry.adapters.db.tables import redemption_codes, redemption_lines, redemptions
from couponry.adapters.db.usage import LimitReached, Usage, take
from couponry.domain.cart import Cart
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.errors import Conflict, RedemptionRefused
from couponry.domain.outcomes import PricingResult
from couponry.domain.pricing import price
from couponry.domain.reasons import MESSAGES
from couponry.services.checkout.bodies import validation_body
from couponry.services.ids import new_id
from couponry.services.messaging import events


@dataclass(frozen=True)
class RedemptionRequest:
    order_id: str
    cart: Cart
    codes: tuple[str, ...]
    customer_id: str | None
    payload: dict[str, Any] = field(repr=False)  # the body as received: hashed for idempotency
    reservation_id: str | None = None
    store_scope: str | None = None  # a store key's store: other stores' codes are unknown to it


def refusal(body: dict[str, Any]) -> RedemptionRefused:
    refused = [c for c in body["codes"] if not c["valid"]]
    detail = "; ".join(f"{c['code']}: {c['reason']}" for c in refused) or "no code was given"
    return RedemptionRefused(f"nothing was redeemed ({detail})", codes=body["codes"], validation=body)


def price_for(
    conn: Connection, req: RedemptionRequest, now: datetime
) -> tuple[PricingResult, dict[str, Any], set[str]]:
    """The priced cart, its validation body, and which of its campaigns count uses on their row."""
    snapshots, customer = load_snapshots(conn, req.codes, req.customer_id, store_scope=req.store_scope)
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
    events.coupons_redeemed(
        conn, redemption_id, req.order_id, req.customer_id, result.currency, result.codes, now
    )


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


def redeem_fresh(
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
