"""A/B tests at the database's edge: drawing and storing each customer's variant (sticky: the first
draw is inserted, every later one finds the row), and pricing a customer's coupons with their variant.

Assignment is drawn when a coupon of the campaign is first issued or claimed for the customer (never
recomputed: a change of weights moves no one). Redemptions of customers without an assignment (an open
code) are priced with the campaign's own discount and counted outside every variant.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import campaigns, variant_assignments
from couponry.domain.coupon import CouponSnapshot, UnknownCoupon
from couponry.domain.experiments import draw
from couponry.domain.rules import NO_DISCOUNT, CampaignRules

_RANDOM = random.SystemRandom()
# (campaign id, variant) -> (the campaign's rules, the variant's rules made of them)
_PRICED: dict[tuple[str, str], tuple[CampaignRules, CampaignRules]] = {}


def variants_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return list(definition.get("variants") or [])


def assign_variants(
    conn: Connection,
    campaign_id: str,
    customer_ids: Iterable[str | None],
    now: datetime,
    definition: dict[str, Any] | None = None,
) -> None:
    """Give each customer a variant of an A/B campaign unless they have one (nothing for other campaigns)."""
    if definition is None:
        definition = (
            conn.execute(
                select(campaigns.c.definition).where(campaigns.c.id == campaign_id)
            ).scalar_one_or_none()
            or {}
        )
    arms = variants_of(definition)
    wanted = sorted({c for c in customer_ids if c})
    if not arms or not wanted:
        return
    names = [a["name"] for a in arms]
    weights = [float(a["weight"]) for a in arms]
    rows = [
        {
            "campaign_id": campaign_id,
            "customer_id": customer_id,
            "variant": draw(names, weights, _RANDOM.random()),
            "assigned_at": now,
        }
        for customer_id in wanted
    ]
    for start in range(0, len(rows), 500):
        insert_ignoring_conflicts(conn, variant_assignments, rows[start : start + 500])


def with_variants(
    conn: Connection, snapshots: list[CouponSnapshot | UnknownCoupon], customer_id: str | None
) -> list[CouponSnapshot | UnknownCoupon]:
    """The snapshots with each A/B campaign's rules replaced by the customer's variant's discount.
    Campaigns without variants cost no query."""
    tested = {s.rules.id for s in snapshots if isinstance(s, CouponSnapshot) and s.rules.variants}
    if not tested or customer_id is None:
        return snapshots
    arms = dict(
        conn.execute(
            select(variant_assignments.c.campaign_id, variant_assignments.c.variant).where(
                and_(
                    variant_assignments.c.customer_id == customer_id,
                    variant_assignments.c.campaign_id.in_(sorted(tested)),
                )
            )
        ).all()
    )
    return [
        replace(s, rules=priced(s.rules, arms[s.rules.id]))
        if isinstance(s, CouponSnapshot) and s.rules.id in arms
        else s
        for s in snapshots
    ]


def priced(rules: CampaignRules, variant: str) -> CampaignRules:
    """The campaign's rules with the variant's discount (a control: valid, nothing off)."""
    key = (rules.id, variant)
    cached = _PRICED.get(key)
    if cached is not None and cached[0] is rules:
        return cached[1]
    arm = next((v for v in rules.variants if v.name == variant), None)
    if arm is None:  # the variant was removed since: the campaign's own discount
        return rules
    found = replace(rules, benefit=arm.benefit or NO_DISCOUNT)
    if len(_PRICED) > 4096:
        _PRICED.clear()
    _PRICED[key] = (rules, found)
    return found
