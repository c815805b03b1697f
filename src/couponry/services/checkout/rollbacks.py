"""Rolling a redemption back (order cancelled or refunded): usage and budget are given back once.

A whole rollback is a conditional status change (succeeded -> rolled_back): a second attempt, from any
process, changes no row and is refused. A partial refund by lines keeps the use and gives back the
discount of the refunded units, guarded per line so no unit is refunded twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text, update

from couponry.adapters.db import adjustments
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, redemption_codes, redemption_lines, redemptions
from couponry.adapters.db.usage import Usage, give_back, return_budget
from couponry.domain.errors import InvalidInput, InvalidState, NotFound
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.checkout import idempotency
from couponry.services.messaging import events


def may_access(conn: Connection, actor: Actor, redemption_id: str) -> bool:
    """A store key may only see or touch redemptions whose every code is one of its own store's
    campaigns (not another store's, nor a platform coupon that other stores redeem too)."""
    if actor.role is not Role.STORE:
        return True
    stores = set(
        conn.execute(
            select(campaigns.c.store_id)
            .join(redemption_codes, redemption_codes.c.campaign_id == campaigns.c.id)
            .where(redemption_codes.c.redemption_id == redemption_id)
        ).scalars()
    )
    return stores == {actor.store_id}


def _check_access(conn: Connection, actor: Actor, redemption_id: str) -> None:
    if not may_access(conn, actor, redemption_id):
        actor.require_store_access(None)  # a store key: 403, as API.md says of another store's data


def load_body(conn: Connection, actor: Actor, redemption_id: str) -> dict[str, Any]:
    row = conn.execute(select(redemptions).where(redemptions.c.id == redemption_id)).first()
    if row is None:
        raise NotFound(f"no redemption {redemption_id}")
    _check_access(conn, actor, redemption_id)
    returned = conn.execute(
        select(redemption_codes.c.code, redemption_codes.c.returned).where(
            redemption_codes.c.redemption_id == redemption_id
        )
    ).all()
    return {
        "id": row.id,
        "order_id": row.order_id,
        "status": row.status,
        "customer_id": row.customer_id,
        "reservation_id": row.reservation_id,
        "created_at": row.created_at.isoformat(),
        "rolled_back_at": row.rolled_back_at.isoformat() if row.rolled_back_at else None,
        "rollback_reason": row.rollback_reason,
        "returned_discount": sum(r.returned for r in returned),
        **row.result,
    }


def rollback(
    db: Database,
    actor: Actor,
    redemption_id: str,
    reason: str,
    lines: Sequence[tuple[str, int]] | None,
    now: datetime,
    key: str | None = None,
    payload: Any = None,
) -> dict[str, Any]:
    actor.require(Permission.ROLLBACK)
    req_hash = idempotency.request_hash(f"rollback:{redemption_id}", payload)
    try:
        with db.write() as conn:
            if key:
                idempotency.find(conn, actor.key_id, key, req_hash)
            if (
                conn.execute(select(redemptions.c.id).where(redemptions.c.id == redemption_id)).first()
                is None
            ):
                raise NotFound(f"no redemption {redemption_id}")
            _check_access(conn, actor, redemption_id)
            if lines:
                _refund_lines(conn, redemption_id, lines)
                adjustments.record_refund(conn, redemption_id, lines, now)  # for the roll-ups
            else:
                _roll_back_whole(conn, redemption_id, reason, now)
                adjustments.record_rollback(conn, redemption_id, now)  # for the roll-ups
            body = load_body(conn, actor, redemption_id)
            if key:
                idempotency.record(conn, actor.key_id, key, "rollback", req_hash, 200, body, now)
            return body
    except idempotency.Replay as replay:
        return replay.response


def _roll_back_whole(conn: Connection, redemption_id: str, reason: str, now: datetime) -> None:
    changed = conn.execute(
        update(redemptions)
        .where(redemptions.c.id == redemption_id, redemptions.c.status == "succeeded")
        .values(status="rolled_back", rolled_back_at=now, rollback_reason=reason)
        .returning(redemptions.c.customer_id)
    ).first()
    if changed is None:
        raise InvalidState("this redemption was already rolled back", code="already_rolled_back")
    codes = conn.execute(
        update(redemption_codes)
        .where(redemption_codes.c.redemption_id == redemption_id)
        .values(active=False)
        .returning(
            redemption_codes.c.code,
            redemption_codes.c.campaign_id,
            redemption_codes.c.discount,
            redemption_codes.c.shipping_discount,
            redemption_codes.c.returned,
        )
    ).all()
    usages = [
        Usage(c.campaign_id, c.code, c.discount + c.shipping_discount - c.returned, changed.customer_id)
        for c in codes
    ]
    give_back(conn, usages, held=False)
    events.redemption_rolled_back(conn, redemption_id, changed.customer_id, codes, reason, now)


def _refund_lines(conn: Connection, redemption_id: str, lines: Sequence[tuple[str, int]]) -> None:
    # A no-op conditional UPDATE, not a read: it locks the redemption, so a whole rollback running at
    # the same moment either finishes first (and this finds it rolled back) or waits for this refund;
    # the budget is never given back twice.
    still_succeeded = conn.execute(
        update(redemptions)
        .where(redemptions.c.id == redemption_id, redemptions.c.status == "succeeded")
        .values(status=redemptions.c.status)
        .returning(redemptions.c.id)
    ).first()
    if still_succeeded is None:
        raise InvalidState("this redemption was already rolled back", code="already_rolled_back")
    for index, (line_id, quantity) in enumerate(lines):
        if quantity < 1:
            raise InvalidInput(f"lines[{index}].quantity", "must be at least 1")
        # half-up share of the line's discount for the units refunded so far, in integer SQL arithmetic
        rows = conn.execute(
            text(
                "UPDATE redemption_lines SET refunded_quantity = refunded_quantity + :q, "
                "returned = (2 * discount * (refunded_quantity + :q) + quantity) / (2 * quantity) "
                "WHERE redemption_id = :r AND line_id = :line AND refunded_quantity + :q <= quantity "
                "RETURNING code, discount, quantity, refunded_quantity, returned"
            ),
            {"q": quantity, "r": redemption_id, "line": line_id},
        ).all()
        expected = conn.execute(
            select(redemption_lines.c.code).where(
                redemption_lines.c.redemption_id == redemption_id, redemption_lines.c.line_id == line_id
            )
        ).all()
        if not expected:
            raise InvalidInput(f"lines[{index}].id", f"line {line_id!r} got no discount in this redemption")
        if len(rows) != len(expected):
            raise InvalidInput(f"lines[{index}].quantity", "more units than were bought and not yet refunded")
        for r in rows:
            before = (2 * r.discount * (r.refunded_quantity - quantity) + r.quantity) // (2 * r.quantity)
            delta = r.returned - before
            campaign_id = conn.execute(
                update(redemption_codes)
                .where(redemption_codes.c.redemption_id == redemption_id, redemption_codes.c.code == r.code)
                .values(returned=redemption_codes.c.returned + delta)
                .returning(redemption_codes.c.campaign_id)
            ).scalar_one()
            return_budget(conn, campaign_id, delta)
