"""Campaign statistics: the roll-ups plus the not-yet-folded tail, counts of coupons issued and claimed,
and for an A/B campaign the figures per variant with the test's verdict."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select

from couponry.adapters.db import rollups
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaign_daily, claims, coupons, variant_assignments
from couponry.domain import experiments
from couponry.domain.measures import Deltas, rate, roi
from couponry.services.access.actors import Actor, Permission
from couponry.services.campaigns.campaigns import load_visible
from couponry.services.reporting.periods import Period, period
from couponry.services.reporting.rollups import fold

FOLD_ON_READ_BACKLOG = 1000  # facts waiting past the watermarks before a read folds them first
FOLD_ON_READ_SECONDS = 2.0  # and for at most this long: the tail covers whatever is left


def daily_figures(
    conn: Connection, period_: Period, tail: Deltas, campaign_ids: list[str] | None
) -> dict[tuple[str, str, date], list[int]]:
    """(campaign, variant, day) -> [redeemed, orders, revenue, cost_platform, cost_store] in the period."""
    query = select(
        campaign_daily.c.campaign_id,
        campaign_daily.c.variant,
        campaign_daily.c.day,
        campaign_daily.c.redeemed,
        campaign_daily.c.orders,
        campaign_daily.c.revenue,
        campaign_daily.c.cost_platform,
        campaign_daily.c.cost_store,
    ).where(
        campaign_daily.c.day >= period_.start.isoformat(), campaign_daily.c.day <= period_.end.isoformat()
    )
    if campaign_ids is not None:
        query = query.where(campaign_daily.c.campaign_id.in_(campaign_ids))
    out: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0] * 5)
    for r in conn.execute(query):
        row = out[r.campaign_id, r.variant, date.fromisoformat(r.day)]
        for i, v in enumerate((r.redeemed, r.orders, r.revenue, r.cost_platform, r.cost_store)):
            row[i] += int(v)
    for (campaign_id, variant, day), m in tail.campaigns.items():
        if (campaign_ids is None or campaign_id in campaign_ids) and period_.start <= day <= period_.end:
            row = out[campaign_id, variant, day]
            for i, v in enumerate(m):
                row[i] += v
    return out


def summary(
    redeemed: int, orders: int, revenue: int, platform: int, store: int, issued: int
) -> dict[str, Any]:
    cost = platform + store
    return {
        "issued": issued,
        "redeemed": redeemed,
        "redemption_rate": rate(redeemed, issued),
        "orders": orders,
        "revenue": revenue,
        "discount_cost": {"platform": platform, "store": store, "total": cost},
        "average_order_value": round(revenue / orders) if orders else None,
        "roi": roi(revenue, cost),
    }


def issued_counts(conn: Connection, period_: Period, campaign_ids: list[str] | None) -> dict[str, int]:
    query = (
        select(coupons.c.campaign_id, func.count())
        .where(coupons.c.issued_at >= period_.starts_at, coupons.c.issued_at < period_.ends_before)
        .group_by(coupons.c.campaign_id)
    )
    if campaign_ids is not None:
        query = query.where(coupons.c.campaign_id.in_(campaign_ids))
    return {r[0]: int(r[1]) for r in conn.execute(query)}


def claimed_counts(conn: Connection, period_: Period, campaign_ids: list[str] | None) -> dict[str, int]:
    query = (
        select(claims.c.campaign_id, func.count())
        .where(claims.c.claimed_at >= period_.starts_at, claims.c.claimed_at < period_.ends_before)
        .group_by(claims.c.campaign_id)
    )
    if campaign_ids is not None:
        query = query.where(claims.c.campaign_id.in_(campaign_ids))
    return {r[0]: int(r[1]) for r in conn.execute(query)}


T = TypeVar("T")


def read_snapshot(db: Database, timezone: str, now: datetime, read: Callable[[Connection, Deltas], T]) -> T:
    """`read(conn, tail)` with the roll-ups and the tail of unfolded facts at one watermark.

    A large backlog is folded first (the scheduler's job usually leaves little). The read runs in one
    transaction; on PostgreSQL (read committed) a fold committing while it reads moves the watermark,
    which is checked again at the end, and the read is done again."""
    result: T | None = None
    for attempt in range(6):
        with db.read() as conn:
            state, waiting = rollups.read_state_and_backlog(conn, timezone, now)
            if attempt == 0 and waiting > FOLD_ON_READ_BACKLOG:
                state = None  # fold first, then read
            else:
                result = read(conn, rollups.tail(conn, timezone, now, state))
                if not db.is_postgres or rollups.read_state(conn, timezone, now).marks == state.marks:
                    return result  # (SQLite's read transaction is one snapshot already)
        if state is None:
            fold(db, timezone, now, seconds=FOLD_ON_READ_SECONDS)
    assert result is not None
    return result


def campaign_stats(
    db: Database,
    actor: Actor,
    campaign_id: str,
    start: str | None,
    end: str | None,
    timezone: str,
    now: datetime,
) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CAMPAIGNS)

    def read(conn: Connection, tail: Deltas) -> dict[str, Any]:
        row = load_visible(conn, actor, campaign_id)
        period_ = period(start, end, timezone, now, row.created_at)
        issued, claimed = conn.execute(
            select(
                select(func.count())
                .where(
                    coupons.c.campaign_id == campaign_id,
                    coupons.c.issued_at >= period_.starts_at,
                    coupons.c.issued_at < period_.ends_before,
                )
                .scalar_subquery(),
                select(func.count())
                .where(
                    claims.c.campaign_id == campaign_id,
                    claims.c.claimed_at >= period_.starts_at,
                    claims.c.claimed_at < period_.ends_before,
                )
                .scalar_subquery(),
            )
        ).one()
        figures = daily_figures(conn, period_, tail, [campaign_id])
        variants = (row.definition or {}).get("variants") or []
        arms = _assigned(conn, period_, campaign_id) if variants else {}
        body = {
            "campaign_id": campaign_id,
            "currency": row.currency,
            **period_.as_dict(),
            **_totals(figures, int(issued)),
            "claimed": int(claimed),
            "daily": _daily(figures, period_),
        }
        body.update(_experiment(variants, figures, arms))
        return body

    return read_snapshot(db, timezone, now, read)


def _totals(figures: dict[tuple[str, str, date], list[int]], issued: int) -> dict[str, Any]:
    sums = [0] * 5
    for m in figures.values():
        for i, v in enumerate(m):
            sums[i] += v
    return summary(*sums, issued=issued)


def _daily(figures: dict[tuple[str, str, date], list[int]], period_: Period) -> list[dict[str, Any]]:
    by_day: dict[date, list[int]] = defaultdict(lambda: [0] * 5)
    for (_, _, day), m in figures.items():
        for i, v in enumerate(m):
            by_day[day][i] += v
    out = []
    for day in period_.days():
        redeemed, orders, revenue, platform, store = by_day.get(day, [0] * 5)
        out.append(
            {
                "date": day.isoformat(),
                "redeemed": redeemed,
                "orders": orders,
                "revenue": revenue,
                "discount_cost": {"platform": platform, "store": store, "total": platform + store},
            }
        )
    return out


def _assigned(conn: Connection, period_: Period, campaign_id: str) -> dict[str, int]:
    return {
        r[0]: int(r[1])
        for r in conn.execute(
            select(variant_assignments.c.variant, func.count())
            .where(
                variant_assignments.c.campaign_id == campaign_id,
                variant_assignments.c.assigned_at >= period_.starts_at,
                variant_assignments.c.assigned_at < period_.ends_before,
            )
            .group_by(variant_assignments.c.variant)
        )
    }


def _experiment(
    variants: list[dict[str, Any]], figures: dict[tuple[str, str, date], list[int]], assigned: dict[str, int]
) -> dict[str, Any]:
    """Per variant: issued (customers assigned), redeemed, revenue per issued coupon, and against the
    control `incremental_revenue`; the z-test's p-value and winner, and the sample-ratio check."""
    if not variants:
        return {"variants": [], "p_value": None, "winner": None, "srm_p_value": None,
                "incremental_revenue": None, "min_sample": experiments.MIN_SAMPLE}  # fmt: skip
    per: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for (_, variant, _), m in figures.items():
        for i, v in enumerate(m):
            per[variant][i] += v
    control = next((v["name"] for v in variants if not v.get("discount")), None)
    rows = []
    for v in variants:
        name = v["name"]
        issued = assigned.get(name, 0)
        row = {
            "name": name,
            "discount": v.get("discount"),
            "weight": v["weight"],
            "control": name == control,
            **summary(*per[name], issued=issued),
        }
        row["revenue_per_issued"] = round(row["revenue"] / issued) if issued else None
        rows.append(row)
    base = next((r for r in rows if r["name"] == control), None)
    incremental_total = None
    for r in rows:
        r["incremental_revenue"] = None
        if base is not None and r is not base and r["issued"] and base["issued"]:
            lift = r["revenue"] / r["issued"] - base["revenue"] / base["issued"]
            r["incremental_revenue"] = round(lift * r["issued"])
            incremental_total = (incremental_total or 0) + r["incremental_revenue"]
    verdict = experiments.verdict(
        [experiments.Arm(r["name"], r["issued"], r["redeemed"]) for r in rows], baseline=control
    )
    return {
        "variants": rows,
        "p_value": verdict.p_value,
        "z": verdict.z,
        "winner": verdict.winner,
        "compared": list(verdict.compared) if verdict.compared else None,
        "srm_p_value": experiments.sample_ratio_p_value(
            [r["issued"] for r in rows], [float(r["weight"]) for r in rows]
        ),
        "incremental_revenue": incremental_total,
        "min_sample": experiments.MIN_SAMPLE,
    }
