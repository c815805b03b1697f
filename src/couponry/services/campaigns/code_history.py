"""One code's story for the dashboard's look-up: the coupon and the orders that redeemed it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import safe_normalize
from couponry.adapters.db.tables import redemption_codes, redemptions
from couponry.services.access.actors import Actor, Permission
from couponry.services.campaigns.coupons import get_coupon


def code_history(db: Database, actor: Actor, code: str, now: datetime, limit: int = 50) -> dict[str, Any]:
    """The coupon (as GET /v1/coupons/{code} shows it) and its latest redemptions, newest first.
    Raises NotFound for an unknown code and Forbidden for another store's, like the API."""
    coupon = get_coupon(db, actor, code, now)
    actor.require(Permission.READ_REDEMPTIONS)
    key = safe_normalize(code)
    with db.read() as conn:
        rows = conn.execute(
            select(
                redemption_codes.c.redemption_id,
                redemption_codes.c.order_id,
                redemption_codes.c.discount,
                redemption_codes.c.shipping_discount,
                redemption_codes.c.returned,
                redemption_codes.c.created_at,
                redemptions.c.status,
                redemptions.c.customer_id,
                redemptions.c.channel,
                redemptions.c.currency,
                redemptions.c.rolled_back_at,
            )
            .join(redemptions, redemptions.c.id == redemption_codes.c.redemption_id)
            .where(redemption_codes.c.code == key)
            .order_by(redemption_codes.c.created_at.desc())
            .limit(limit)
        ).all()
    return {"coupon": coupon, "redemptions": [dict(r._mapping) for r in rows]}
