"""What redeeming and holding codes for an order share: the request, pricing it against the stored
coupons, writing the redemption with its per-line allocation, and taking usage under the guards.

Both `redemptions` (redeem now) and `reservations` (hold, then confirm) build on these pieces, so
neither imports the other's internals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from couponry.adapters.db import driver
from couponry.adapters.db.snapshots import Loaded, load_snapshots
from couponry.adapters.db.usage import LimitReached, Usage, take, take_and_commit
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
    """The priced cart, its validation body, and which of its campaigns count uses on their row. Read
    before the transaction's first write on PostgreSQL (driver.reads_outside_transaction): the guards,
    not this read, decide every limit."""
    with driver.reads_outside_transaction(conn):
        loaded = load_snapshots(conn, req.codes, req.customer_id, store_scope=req.store_scope)
    return price_loaded(req, loaded, now)


def price_loaded(
    req: RedemptionRequest, loaded: Loaded, now: datetime
) -> tuple[PricingResult, dict[str, Any], set[str]]:
    """As `price_for`, from coupons already read."""
    snapshots, customer = loaded
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


class TryAgainStepByStep(Exception):
    """PostgreSQL: the redemption's writes, guards and COMMIT sent as one round trip did not all go
    through (a guard found no unit where it looked, or the order already redeemed a code); the
    transaction was rolled back, and the step-by-step way decides (the slow path over every slot, or
    the answer that names the refusal or conflict)."""


Statement = tuple[str, dict[str, Any]]


def redemption_rows(
    redemption_id: str,
    req: RedemptionRequest,
    result: PricingResult,
    body: dict[str, Any],
    now: Any,
    reservation_id: str | None,
) -> list[Statement]:
    """The INSERTs of a redemption: its row, one row per code, one per code and line with who bears the
    cost; each table in one statement (several rows in one VALUES list), run on the driver."""
    quantities = {line.id: line.quantity for line in req.cart.lines}
    statements: list[Statement] = [
        (
            "INSERT INTO redemptions (id, order_id, customer_id, status, reservation_id, currency, result, "
            "channel, created_at) VALUES (:id, :order_id, :customer_id, 'succeeded', :reservation_id, "
            ":currency, :result, :channel, :created_at)",
            {
                "id": redemption_id,
                "order_id": req.order_id,
                "customer_id": req.customer_id,
                "reservation_id": reservation_id,
                "currency": result.currency,
                "result": orjson.dumps(body).decode(),
                "channel": req.cart.channel,
                "created_at": now,
            },
        )
    ]
    codes: dict[str, Any] = {"r": redemption_id, "o": req.order_id, "t": now}
    values = []
    for i, o in enumerate(result.codes):
        values.append(f"(:r, :c{i}, :k{i}, :o, TRUE, :i{i}, :d{i}, :s{i}, :t)")
        codes.update(
            {
                f"c{i}": o.code,
                f"k{i}": o.campaign_id,
                f"i{i}": o.issuer_key or "platform",
                f"d{i}": o.discount,
                f"s{i}": o.shipping_discount,
            }
        )
    statements.append(
        (
            "INSERT INTO redemption_codes (redemption_id, code, campaign_id, order_id, active, issuer, "
            "discount, shipping_discount, created_at) VALUES " + ", ".join(values),
            codes,
        )
    )
    lines: dict[str, Any] = {"r": redemption_id}
    values = []
    for o in result.codes:
        for ld in o.lines:
            if ld.discount:
                i = len(values)
                values.append(f"(:r, :c{i}, :l{i}, :s{i}, :b{i}, :q{i}, :d{i})")
                lines.update(
                    {
                        f"c{i}": o.code,
                        f"l{i}": ld.line_id,
                        f"s{i}": ld.store_id,
                        f"b{i}": (o.issuer_key or "platform").removeprefix("store:"),
                        f"q{i}": quantities[ld.line_id],
                        f"d{i}": ld.discount,
                    }
                )
    if values:
        statements.append(
            (
                "INSERT INTO redemption_lines (redemption_id, code, line_id, store_id, borne_by, quantity, "
                "discount) VALUES " + ", ".join(values),
                lines,
            )
        )
    return statements


def _conflict(req: RedemptionRequest) -> Conflict:
    return Conflict(f"order {req.order_id} has already redeemed one of these codes", code="already_redeemed")


def store_redemption(
    conn: Connection,
    redemption_id: str,
    req: RedemptionRequest,
    result: PricingResult,
    body: dict[str, Any],
    now: datetime,
    reservation_id: str | None = None,
    *,
    defer: list[Statement] | None = None,
) -> None:
    """The redemption, one row per code, and one row per code and line with who bears the cost; with
    `defer`, the INSERTs are added to it (to be sent with the guards) instead of run now."""
    rows = redemption_rows(redemption_id, req, result, body, driver.stored_time(conn, now), reservation_id)
    if defer is not None:
        defer.extend(rows)
    else:
        try:
            for sql, params in rows:
                driver.execute(conn, sql, params)
        except (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError) as exc:
            raise _conflict(req) from exc
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
    *,
    one_round_trip: bool = False,
) -> dict[str, Any]:
    """Price, write and take the usage. With `one_round_trip` on PostgreSQL the INSERTs, the guarded
    UPDATEs and the COMMIT go as one pipeline (the hot rows are locked for no client round trip), and
    anything but success raises TryAgainStepByStep; the caller then runs it again without."""
    result, validation, tracked = price_for(conn, req, now)
    redemption_id = new_id()
    body = redemption_body(redemption_id, req, validation, now, reservation_id)
    before_locks(body)
    usages = usages_of(result, req.customer_id, tracked)
    if one_round_trip and conn.dialect.name == "postgresql":
        writes: list[Statement] = []
        store_redemption(conn, redemption_id, req, result, validation, now, reservation_id, defer=writes)
        if not take_and_commit(conn, usages, writes):
            raise TryAgainStepByStep
        return body
    store_redemption(conn, redemption_id, req, result, validation, now, reservation_id)
    take_or_refuse(conn, usages, body, hold=False)
    return body
