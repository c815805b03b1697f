"""The public feed: active campaigns a shop marked `"public": true`, with their open codes and terms,
for coupon sites to list. No key needed, so it shows nothing a campaign did not choose to publish.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, coupons
from couponry.services.messaging.compose import describe_discount

CODES_PER_CAMPAIGN = 20


def _running(definition: dict[str, Any], now: datetime) -> bool:
    validity = definition.get("validity") or {}
    starts = validity.get("starts_at")
    ends = validity.get("ends_at")
    return (not starts or datetime.fromisoformat(starts) <= now) and (
        not ends or now < datetime.fromisoformat(ends)
    )


def _terms(row: Any) -> dict[str, Any]:
    d = row.definition
    conditions, validity, scope = d.get("conditions") or {}, d.get("validity") or {}, d.get("scope") or {}
    return {
        "min_spend": conditions.get("min_spend"),
        "min_quantity": conditions.get("min_quantity"),
        "first_order_only": conditions.get("first_order_only", False),
        "channels": conditions.get("channels", ["online", "pos"]),
        "starts_at": validity.get("starts_at"),
        "ends_at": validity.get("ends_at"),
        "per_customer": row.per_customer,
        "scope": {k: v for k, v in scope.items() if v},
    }


def public_coupons(
    db: Database, now: datetime, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of public campaigns (ordered by id, keyset cursor) with up to 20 open codes each: codes
    issued to nobody in particular and not used up."""
    items: list[dict[str, Any]] = []
    last = cursor or ""
    with db.read() as conn:
        while len(items) < limit:
            rows = conn.execute(
                select(campaigns)
                .where(campaigns.c.is_public.is_(True), campaigns.c.status == "active", campaigns.c.id > last)
                .order_by(campaigns.c.id)
                .limit(limit)
            ).all()
            for row in rows:
                last = row.id
                if not _running(row.definition, now):
                    continue
                query = (
                    select(coupons.c.display_code)
                    .where(coupons.c.campaign_id == row.id, coupons.c.customer_id.is_(None))
                    .order_by(coupons.c.issued_at, coupons.c.code)
                    .limit(CODES_PER_CAMPAIGN)
                )
                if row.per_coupon is not None:
                    query = query.where(coupons.c.redeemed_count + coupons.c.held_count < row.per_coupon)
                codes = list(conn.execute(query).scalars())
                if not codes:
                    continue
                items.append(
                    {
                        "campaign_id": row.id,
                        "name": row.name,
                        "codes": codes,
                        "currency": row.currency,
                        "discount": row.definition["discount"],
                        "summary": describe_discount(row.definition["discount"], row.currency),
                        "terms": _terms(row),
                    }
                )
                if len(items) == limit:
                    break
            if len(rows) < limit:
                return items, None
    return items, last
