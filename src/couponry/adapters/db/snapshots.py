"""Reading what the pricing core needs in as few queries as possible: coupons with their campaigns and
this customer's usage in one query, the customer's profile in another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from couponry.adapters.db.campaign_rules import rules_from_row
from couponry.adapters.db.limit_slots import used_and_spent
from couponry.adapters.db.tables import campaigns, coupons, customer_usage, customers
from couponry.domain.codes import normalize
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.errors import InvalidInput

_USED, _SPENT = used_and_spent()
_COLUMNS = (
    coupons.c.code,
    coupons.c.display_code,
    coupons.c.customer_id.label("owner_id"),
    coupons.c.issued_at,
    (coupons.c.redeemed_count + coupons.c.held_count).label("coupon_used"),
    campaigns.c.id,
    campaigns.c.currency,
    campaigns.c.status,
    campaigns.c.stacking,
    campaigns.c.definition,
    campaigns.c.max_redemptions,
    campaigns.c.budget,
    campaigns.c.per_coupon,
    campaigns.c.per_customer,
    campaigns.c.updated_at,
    # a campaign-wide limit's usage: the sums of its slots (adapters.db.limit_slots), 0 without one
    _USED.label("campaign_used"),
    _SPENT.label("budget_spent"),
)


def safe_normalize(code: str) -> str | None:
    try:
        return normalize(code)
    except InvalidInput:
        return None


def load_snapshots(
    conn: Connection, codes: Sequence[str], customer_id: str | None
) -> tuple[list[CouponSnapshot | UnknownCoupon], CustomerProfile | None]:
    """One snapshot per requested code, in request order (unknown codes become UnknownCoupon), and the
    customer's profile, read with them in the same query: one round trip for both."""
    normalized = [safe_normalize(c) for c in codes]
    wanted = sorted({n for n in normalized if n})
    found: dict[str, CouponSnapshot] = {}
    customer = None
    if wanted:
        query = select(*_COLUMNS).join(campaigns, campaigns.c.id == coupons.c.campaign_id)
        if customer_id is not None:
            query = (
                query.add_columns(
                    (customer_usage.c.redeemed_count + customer_usage.c.held_count).label("customer_used"),
                    customers.c.id.label("customer_known"),
                    customers.c.tags,
                    customers.c.order_count,
                )
                .outerjoin(
                    customer_usage,
                    and_(
                        customer_usage.c.campaign_id == coupons.c.campaign_id,
                        customer_usage.c.customer_id == customer_id,
                    ),
                )
                .outerjoin(customers, customers.c.id == customer_id)
            )
        for row in conn.execute(query.where(coupons.c.code.in_(wanted))):
            found[row.code] = CouponSnapshot(
                code=row.code,
                rules=rules_from_row(row),
                owner_id=row.owner_id,
                issued_at=row.issued_at,
                campaign_redemptions=row.campaign_used,
                campaign_budget_used=row.budget_spent,
                coupon_redemptions=row.coupon_used,
                customer_redemptions=(row.customer_used or 0) if customer_id is not None else 0,
            )
            if customer_id is not None and customer is None:
                customer = _profile(customer_id, row if row.customer_known else None)
    if customer is None:  # no code was known: the profile still comes back, from its own query
        customer = load_customer(conn, customer_id)
    snapshots = [
        found.get(n, UnknownCoupon(raw)) if n else UnknownCoupon(raw)
        for n, raw in zip(normalized, codes, strict=True)
    ]
    return snapshots, customer


def _profile(customer_id: str, row: Any) -> CustomerProfile:
    """The profile, or a blank one for an id Couponry has not seen (a guest with an id)."""
    if row is None:
        return CustomerProfile(id=customer_id)
    return CustomerProfile(id=customer_id, tags=frozenset(row.tags or ()), order_count=row.order_count)


def load_customer(conn: Connection, customer_id: str | None) -> CustomerProfile | None:
    if customer_id is None:
        return None
    row = conn.execute(
        select(customers.c.tags, customers.c.order_count).where(customers.c.id == customer_id)
    ).first()
    return _profile(customer_id, row)
