"""The oracle of the roll-ups: every figure recounted from the raw rows as they stand (redemptions that
are not rolled back, the per-line allocation with what refunds gave back, order.completed amounts),
written without the roll-up code, and the roll-ups as stored."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import (
    campaign_daily,
    events,
    redemption_codes,
    redemption_lines,
    redemptions,
    store_daily,
    variant_assignments,
)

Figures = tuple[dict[tuple[str, str, date], list[int]], dict[tuple[str, str, str, date], int]]


def recount(db: Database, timezone: str = "UTC") -> Figures:
    zone = ZoneInfo(timezone)
    campaigns: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0] * 5)
    stores: dict[tuple[str, str, str, date], int] = defaultdict(int)
    with db.read() as conn:
        live = {r.id: r for r in conn.execute(select(redemptions).where(redemptions.c.status == "succeeded"))}
        completed: dict[str, Any] = {
            r.ref: r.payload.get("amount")
            for r in conn.execute(
                select(events.c.ref, events.c.payload).where(events.c.type == "order.completed")
            )
        }
        assigned = {
            (r.campaign_id, r.customer_id): (r.variant, r.assigned_at)
            for r in conn.execute(select(variant_assignments))
        }
        codes = conn.execute(select(redemption_codes)).all()
        lines = conn.execute(select(redemption_lines)).all()
    refunded_units: dict[tuple[str, str], int] = {}
    for ln in lines:
        if ln.redemption_id in live:
            day = live[ln.redemption_id].created_at.astimezone(zone).date()
            campaign_id = next(
                c.campaign_id for c in codes if c.redemption_id == ln.redemption_id and c.code == ln.code
            )
            stores[campaign_id, ln.store_id or "", ln.borne_by, day] += ln.discount - ln.returned
            refunded_units[ln.redemption_id, ln.line_id] = ln.refunded_quantity
    counted_orders: set[tuple[str, str]] = set()
    for c in codes:
        r = live.get(c.redemption_id)
        if r is None:
            continue
        found = assigned.get((c.campaign_id, r.customer_id))
        variant = found[0] if found and found[1] <= r.created_at else ""
        row = campaigns[c.campaign_id, variant, r.created_at.astimezone(zone).date()]
        row[0] += 1
        row[3 if c.issuer == "platform" else 4] += c.discount + c.shipping_discount - c.returned
        if (c.redemption_id, c.campaign_id) not in counted_orders:
            counted_orders.add((c.redemption_id, c.campaign_id))
            amount = completed.get(r.order_id)
            revenue = amount if amount is not None else r.result["total"]
            for body_line in r.result["lines"]:
                units = refunded_units.get((r.id, body_line["id"]), 0)
                if units:
                    quantity = next(
                        ln.quantity
                        for ln in lines
                        if ln.redemption_id == r.id and ln.line_id == body_line["id"]
                    )
                    paid = body_line["amount"] - body_line["discount"]
                    revenue -= (2 * paid * units + quantity) // (2 * quantity)
            row[1] += 1
            row[2] += revenue
    return (
        {k: v for k, v in campaigns.items() if any(v)},
        {k: v for k, v in stores.items() if v},
    )


def stored(db: Database) -> Figures:
    with db.read() as conn:
        campaigns = {
            (r.campaign_id, r.variant, date.fromisoformat(r.day)): [
                r.redeemed,
                r.orders,
                r.revenue,
                r.cost_platform,
                r.cost_store,
            ]
            for r in conn.execute(select(campaign_daily))
        }
        stores = {
            (r.campaign_id, r.store_id, r.borne_by, date.fromisoformat(r.day)): r.discount
            for r in conn.execute(select(store_daily))
        }
    return {k: v for k, v in campaigns.items() if any(v)}, {k: v for k, v in stores.items() if v}
