"""Reading what the pricing core needs in as few queries as possible: coupons with their campaigns'
counters and this customer's usage and profile in one query; campaign rules from an in-process cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select

from couponry.adapters.db.campaign_rules import cached_rules, rules_from_row
from couponry.adapters.db.limit_slots import used_and_spent
from couponry.adapters.db.segments import with_segments
from couponry.adapters.db.tables import campaigns, coupons, customer_usage, customers
from couponry.adapters.db.variants import with_variants
from couponry.domain.codes import normalize
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.errors import InvalidInput
from couponry.domain.rules import CampaignRules

_USED, _SPENT = used_and_spent()
# The coupon and the campaign's live counters; the campaign's rules come from the in-process cache,
# checked by updated_at (every change of a campaign's rules sets it), so the `definition` JSON is
# read and parsed only when a campaign is first seen or has changed.
_COLUMNS = (
    coupons.c.code,
    coupons.c.customer_id.label("owner_id"),
    coupons.c.issued_at,
    (coupons.c.redeemed_count + coupons.c.held_count).label("coupon_used"),
    campaigns.c.id,
    campaigns.c.updated_at,
    # a campaign-wide limit's usage: the sums of its slots (adapters.db.limit_slots), 0 without one
    _USED.label("campaign_used"),
    _SPENT.label("budget_spent"),
)
_CUSTOMER = bindparam("customer_id")
# Built once: SQLAlchemy then finds the compiled SQL in its cache without rebuilding the statement and
# its cache key on every request. `codes` expands to as many parameters as codes given.
_COUPONS = (
    select(*_COLUMNS)
    .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
    .where(coupons.c.code.in_(bindparam("codes", expanding=True)))
)
_COUPONS_FOR_CUSTOMER = (
    _COUPONS.add_columns(
        (customer_usage.c.redeemed_count + customer_usage.c.held_count).label("customer_used"),
        customers.c.id.label("customer_known"),
        customers.c.tags,
        customers.c.order_count,
    )
    .outerjoin(
        customer_usage,
        and_(
            customer_usage.c.campaign_id == coupons.c.campaign_id,
            customer_usage.c.customer_id == _CUSTOMER,
        ),
    )
    .outerjoin(customers, customers.c.id == _CUSTOMER)
)
# A store key sees only its own store's and platform campaigns.
_SCOPE = or_(campaigns.c.store_id.is_(None), campaigns.c.store_id == bindparam("store"))
_STATEMENTS = {  # (with a customer, scoped to a store) -> the statement, built once
    (False, False): _COUPONS,
    (True, False): _COUPONS_FOR_CUSTOMER,
    (False, True): _COUPONS.where(_SCOPE),
    (True, True): _COUPONS_FOR_CUSTOMER.where(_SCOPE),
}
_RULES = select(
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
).where(campaigns.c.id.in_(bindparam("ids", expanding=True)))
_PROFILE = select(customers.c.tags, customers.c.order_count).where(customers.c.id == _CUSTOMER)


def safe_normalize(code: str) -> str | None:
    try:
        return normalize(code)
    except InvalidInput:
        return None


def load_snapshots(
    conn: Connection, codes: Sequence[str], customer_id: str | None, *, store_scope: str | None = None
) -> tuple[list[CouponSnapshot | UnknownCoupon], CustomerProfile | None]:
    """One snapshot per requested code, in request order (unknown codes become UnknownCoupon), and the
    customer's profile, read with them in the same query: one round trip for both.

    With `store_scope` (a store key's store) only that store's and platform campaigns are seen: another
    store's code becomes UnknownCoupon, indistinguishable from a code that does not exist."""
    normalized = [safe_normalize(c) for c in codes]
    wanted = sorted({n for n in normalized if n})
    found: dict[str, CouponSnapshot] = {}
    customer = None
    if wanted:
        params: dict[str, Any] = {"codes": wanted, "customer_id": customer_id, "store": store_scope}
        rows = conn.execute(_STATEMENTS[customer_id is not None, store_scope is not None], params).all()
        rules = _rules(conn, {(row.id, row.updated_at) for row in rows})
        for row in rows:
            found[row.code] = CouponSnapshot(
                code=row.code,
                rules=rules[row.id, row.updated_at],
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
    customer = with_segments(conn, found.values(), customer)
    snapshots = [
        found.get(n, UnknownCoupon(raw)) if n else UnknownCoupon(raw)
        for n, raw in zip(normalized, codes, strict=True)
    ]
    return with_variants(conn, snapshots, customer_id), customer


def _rules(
    conn: Connection, versions: set[tuple[str, datetime]]
) -> dict[tuple[str, datetime], CampaignRules]:
    """The rules of each (campaign id, updated_at) read: from the cache, else read and parsed (one query
    for all that are missing). A campaign changed between the two reads is priced with its newer rules:
    both are states it had while the request ran."""
    rules = {version: cached_rules(*version) for version in versions}
    missing = {campaign_id for (campaign_id, _), found in rules.items() if found is None}
    if missing:
        fresh = {row.id: rules_from_row(row) for row in conn.execute(_RULES, {"ids": sorted(missing)})}
        for version, found in rules.items():
            if found is None:  # campaigns are never deleted, so every one is found
                rules[version] = fresh[version[0]]
    return rules  # type: ignore[return-value]


def _profile(customer_id: str, row: Any) -> CustomerProfile:
    """The profile, or a blank one for an id Couponry has not seen (a guest with an id)."""
    if row is None:
        return CustomerProfile(id=customer_id)
    return CustomerProfile(id=customer_id, tags=frozenset(row.tags or ()), order_count=row.order_count)


def load_customer(conn: Connection, customer_id: str | None) -> CustomerProfile | None:
    if customer_id is None:
        return None
    row = conn.execute(_PROFILE, {"customer_id": customer_id}).first()
    return _profile(customer_id, row)
