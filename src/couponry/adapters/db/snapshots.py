"""Reading what the pricing core needs in as few queries as possible: coupons with their campaigns'
counters and this customer's usage and profile in one query; campaign rules from an in-process cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select

from couponry.adapters.db.campaign_rules import cached_rules, rules_from_row
from couponry.adapters.db.driver import execute, from_json, is_postgres, text_array, utc
from couponry.adapters.db.segments import with_segments
from couponry.adapters.db.tables import campaigns, customers
from couponry.adapters.db.variants import with_variants
from couponry.domain.codes import normalize
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.errors import InvalidInput
from couponry.domain.rules import CampaignRules

# The campaign's rules come from the in-process cache, checked by updated_at (every change of a
# campaign's rules sets it), so the `definition` JSON is read and parsed only when a campaign is first
# seen or has changed.
_CUSTOMER = bindparam("customer_id")
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


@lru_cache(maxsize=256)
def _coupons_sql(n: int, customer: bool, scoped: bool, postgres: bool) -> str:
    """The coupons with their campaigns' counters (and the customer's usage and profile), as SQL run on
    the driver (adapters.db.driver): the statements above, without SQLAlchemy's per-execution work."""
    # the campaign's counters, summed over its limit slots (adapters.db.limit_slots); PostgreSQL's sum
    # of bigints is a numeric, which the driver reads as a Decimal: amounts are ints, so cast back
    used = "coalesce(sum(s.redeemed_count + s.held_count), 0)"
    budget = "CAST(coalesce(sum(s.budget_used + s.budget_held), 0) AS BIGINT)"
    slots = "FROM campaign_limit_slots s WHERE s.campaign_id = ca.id"
    columns = (
        "co.code, co.customer_id, co.issued_at, co.redeemed_count + co.held_count, ca.id, ca.updated_at, "
    )
    if postgres:  # both sums from one pass over the slots (a tenth of the statement's time there)
        columns += "slot_sums.used, slot_sums.budget"
    else:  # SQLite has no LATERAL
        columns += f"(SELECT {used} {slots}), (SELECT {budget} {slots})"
    joins = "coupons co JOIN campaigns ca ON ca.id = co.campaign_id"
    if postgres:
        joins += f" CROSS JOIN LATERAL (SELECT {used} AS used, {budget} AS budget {slots}) slot_sums"
    if customer:
        columns += ", cu.redeemed_count + cu.held_count, cus.id, cus.tags, cus.order_count"
        joins += (
            " LEFT OUTER JOIN customer_usage cu ON cu.campaign_id = co.campaign_id "
            "AND cu.customer_id = :customer_id LEFT OUTER JOIN customers cus ON cus.id = :customer_id"
        )
    # PostgreSQL: one statement text for any number of codes (prepared by psycopg after a few uses)
    wanted = "= ANY(:codes)" if postgres else "IN (" + ", ".join(f":c{i}" for i in range(n)) + ")"
    sql = f"SELECT {columns} FROM {joins} WHERE co.code {wanted}"
    if scoped:
        sql += " AND (ca.store_id IS NULL OR ca.store_id = :store)"
    return sql


class SnapshotRead:
    """One request's read of its coupons, in steps a caller runs on its own connection: `query()` (the
    one statement), then `finish(conn, rows)`, which may read more (rules not in the cache, the
    profile, segments, A/B arms), or `finish_without_reading(rows)`, None when it would have to.

    Both `load_snapshots` (a blocking connection) and `snapshots_on_loop` (PostgreSQL's async driver on
    the event loop) are this, so the two cannot drift apart."""

    def __init__(
        self, codes: Sequence[str], customer_id: str | None, store_scope: str | None, postgres: bool
    ) -> None:
        self.codes, self.customer_id, self.store_scope, self.postgres = (
            codes,
            customer_id,
            store_scope,
            postgres,
        )
        self.normalized = [safe_normalize(c) for c in codes]
        self.wanted = sorted({n for n in self.normalized if n})

    def query(self) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"customer_id": self.customer_id, "store": self.store_scope}
        if self.postgres:
            params["codes"] = text_array(self.wanted)
        else:
            params.update({f"c{i}": code for i, code in enumerate(self.wanted)})
        customer = self.customer_id is not None
        return _coupons_sql(len(self.wanted), customer, self.store_scope is not None, self.postgres), params

    def finish(self, conn: Connection, rows: list[tuple[Any, ...]]) -> Loaded:
        versions = {(row[4], utc(row[5])) for row in rows}
        found, customer = self._found(rows, _rules(conn, versions))
        if customer is None:  # no code was known: the profile still comes back, from its own query
            customer = load_customer(conn, self.customer_id)
        customer = with_segments(conn, found.values(), customer)
        return with_variants(conn, self._in_request_order(found), self.customer_id), customer

    def finish_without_reading(self, rows: list[tuple[Any, ...]]) -> Loaded | None:
        rules: dict[tuple[str, datetime], CampaignRules] = {}
        for row in rows:
            version = (row[4], utc(row[5]))
            cached = cached_rules(*version)
            if cached is None:
                return None
            personal = cached.conditions.segment_id is not None or cached.variants
            if personal and self.customer_id is not None:  # segments or A/B arms: a query of their own
                return None
            rules[version] = cached  # type: ignore[index]
        found, customer = self._found(rows, rules)
        if customer is None and self.customer_id is not None:
            return None
        return self._in_request_order(found), customer

    def _found(
        self, rows: list[tuple[Any, ...]], rules: dict[tuple[str, datetime], CampaignRules]
    ) -> tuple[dict[str, CouponSnapshot], CustomerProfile | None]:
        found: dict[str, CouponSnapshot] = {}
        customer = None
        customer_id = self.customer_id
        for row in rows:
            found[row[0]] = CouponSnapshot(
                code=row[0],
                rules=rules[row[4], utc(row[5])],  # type: ignore[index]
                owner_id=row[1],
                issued_at=utc(row[2]),  # type: ignore[arg-type]
                campaign_redemptions=row[6],
                campaign_budget_used=row[7],
                coupon_redemptions=row[3],
                customer_redemptions=(row[8] or 0) if customer_id is not None else 0,
            )
            if customer_id is not None and customer is None:
                customer = _profile(customer_id, _Profile(from_json(row[10]), row[11]) if row[9] else None)
        return found, customer

    def _in_request_order(self, found: dict[str, CouponSnapshot]) -> list[CouponSnapshot | UnknownCoupon]:
        return [
            found.get(n, UnknownCoupon(raw)) if n else UnknownCoupon(raw)
            for n, raw in zip(self.normalized, self.codes, strict=True)
        ]


Loaded = tuple[list[CouponSnapshot | UnknownCoupon], CustomerProfile | None]


def load_snapshots(
    conn: Connection, codes: Sequence[str], customer_id: str | None, *, store_scope: str | None = None
) -> Loaded:
    """One snapshot per requested code, in request order (unknown codes become UnknownCoupon), and the
    customer's profile, read with them in the same query: one round trip for both.

    With `store_scope` (a store key's store) only that store's and platform campaigns are seen: another
    store's code becomes UnknownCoupon, indistinguishable from a code that does not exist."""
    plan = SnapshotRead(codes, customer_id, store_scope, is_postgres(conn))
    rows = execute(conn, *plan.query()).fetchall() if plan.wanted else []
    return plan.finish(conn, rows)


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


class _Profile(NamedTuple):
    tags: list[str] | None
    order_count: int


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
