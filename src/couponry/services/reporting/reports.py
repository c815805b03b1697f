"""Reports across campaigns: settlement (what the platform owes each store) and one row per campaign."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, store_daily
from couponry.domain.measures import Deltas
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.reporting.periods import Period, period
from couponry.services.reporting.stats import (
    claimed_counts,
    daily_figures,
    issued_counts,
    read_snapshot,
    summary,
)


def _period(db: Database, start: str | None, end: str | None, timezone: str, now: datetime) -> Period:
    with db.read() as conn:
        first = conn.execute(select(func.min(campaigns.c.created_at))).scalar()
    return period(start, end, timezone, now, first or now)


def settlement(
    db: Database, actor: Actor, start: str | None, end: str | None, timezone: str, now: datetime
) -> dict[str, Any]:
    """Per store and currency, the discount of platform coupons on the store's lines, net of rollbacks
    and refunds: what the platform owes the store. A store key sees its own store only."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    period_ = _period(db, start, end, timezone, now)

    def read(conn: Connection, tail: Deltas) -> dict[tuple[str, str], int]:
        owed: dict[tuple[str, str], int] = defaultdict(int)
        currency = dict(conn.execute(select(campaigns.c.id, campaigns.c.currency)).all())
        for r in conn.execute(
            select(store_daily.c.campaign_id, store_daily.c.store_id, func.sum(store_daily.c.discount))
            .where(
                store_daily.c.borne_by == "platform",
                store_daily.c.store_id != "",
                store_daily.c.day >= period_.start.isoformat(),
                store_daily.c.day <= period_.end.isoformat(),
            )
            .group_by(store_daily.c.campaign_id, store_daily.c.store_id)
        ):
            owed[r[1], currency.get(r[0], "")] += int(r[2])
        for (campaign_id, store_id, borne_by, day), amount in tail.stores.items():
            if borne_by == "platform" and store_id and period_.start <= day <= period_.end:
                owed[store_id, currency.get(campaign_id, "")] += amount
        return owed

    owed = read_snapshot(db, timezone, now, read)
    if actor.role is Role.STORE:
        owed = {k: v for k, v in owed.items() if k[0] == actor.store_id}
    stores = [
        {"store_id": store_id, "currency": cur, "amount": amount}
        for (store_id, cur), amount in sorted(owed.items())
        if amount
    ]
    totals: dict[str, int] = defaultdict(int)
    for s in stores:
        totals[s["currency"]] += s["amount"]
    return {**period_.as_dict(), "stores": stores, "totals": dict(sorted(totals.items()))}


def settlement_csv(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from", "to", "store_id", "currency", "amount"])
    for s in body["stores"]:
        writer.writerow([body["from"], body["to"], s["store_id"], s["currency"], s["amount"]])
    return out.getvalue()


CAMPAIGN_COLUMNS = (
    "campaign_id", "name", "currency", "status", "issued", "claimed", "redeemed", "redemption_rate", "orders",
    "revenue", "discount_cost_platform", "discount_cost_store", "discount_cost", "average_order_value", "roi",
)  # fmt: skip


def campaign_rows(
    db: Database, actor: Actor, start: str | None, end: str | None, timezone: str, now: datetime
) -> tuple[Period, list[dict[str, Any]]]:
    """One row per campaign this key may see, with its figures over the period (newest first)."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    period_ = _period(db, start, end, timezone, now)

    def read(conn: Connection, tail: Deltas) -> tuple[list[Any], Any, dict[str, int], dict[str, int]]:
        query = select(campaigns.c.id, campaigns.c.name, campaigns.c.currency, campaigns.c.status).order_by(
            campaigns.c.created_at.desc(), campaigns.c.id.desc()
        )
        if actor.store_scope:
            query = query.where(campaigns.c.store_id == actor.store_scope)
        listed = conn.execute(query).all()
        ids = [c.id for c in listed]
        figures = daily_figures(conn, period_, tail, ids)
        return listed, figures, issued_counts(conn, period_, ids), claimed_counts(conn, period_, ids)

    listed, figures, issued, claimed = read_snapshot(db, timezone, now, read)
    per: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for (campaign_id, _, _), m in figures.items():
        for i, v in enumerate(m):
            per[campaign_id][i] += v
    rows = []
    for c in listed:
        s = summary(*per[c.id], issued=issued.get(c.id, 0))
        rows.append(
            {
                "campaign_id": c.id,
                "name": c.name,
                "currency": c.currency,
                "status": c.status,
                "issued": s["issued"],
                "claimed": claimed.get(c.id, 0),
                "redeemed": s["redeemed"],
                "redemption_rate": s["redemption_rate"],
                "orders": s["orders"],
                "revenue": s["revenue"],
                "discount_cost_platform": s["discount_cost"]["platform"],
                "discount_cost_store": s["discount_cost"]["store"],
                "discount_cost": s["discount_cost"]["total"],
                "average_order_value": s["average_order_value"],
                "roi": s["roi"],
            }  # fmt: skip
        )
    return period_, rows


def campaigns_csv(rows: list[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CAMPAIGN_COLUMNS)
    for r in rows:
        writer.writerow(["" if r[k] is None else _cell(r[k]) for k in CAMPAIGN_COLUMNS])
    yield out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):  # no formulas in a spreadsheet
        return "'" + value
    return value
