"""Reading segments and asking who belongs to them.

Segments never change once created, so their parsed rules are kept in a per-process cache: checking
a campaign's segment at checkout costs one primary-key query on customers (`memberships`), never an
evaluation of the whole segment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Connection, case, select

from couponry.adapters.db.segment_sql import where
from couponry.adapters.db.tables import customers, segments
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.segments import Segment, parse_segment, predicate

_CACHE: dict[str, Segment] = {}
_CACHE_LIMIT = 10_000


def load_segment(conn: Connection, segment_id: str) -> Segment | None:
    cached = _CACHE.get(segment_id)
    if cached is not None:
        return cached
    row = conn.execute(select(segments.c.match, segments.c.rules).where(segments.c.id == segment_id)).first()
    if row is None:
        return None
    segment = parse_segment(row.match, row.rules)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[segment_id] = segment
    return segment


def members_where(conn: Connection, segment: Segment, now: datetime):  # noqa: ANN201
    """The WHERE clause over `customers` that selects the segment's members at `now`."""
    return where(predicate(segment, now), conn.dialect.name)


def memberships(
    conn: Connection, customer_id: str, segment_ids: Iterable[str], now: datetime
) -> frozenset[str]:
    """Which of these segments the customer belongs to: one query on the customer's row."""
    wanted = [(sid, s) for sid in sorted(set(segment_ids)) if (s := load_segment(conn, sid)) is not None]
    if not wanted:
        return frozenset()
    columns = [
        case((members_where(conn, s, now), 1), else_=0).label(f"s{i}") for i, (_, s) in enumerate(wanted)
    ]
    row = conn.execute(select(*columns).where(customers.c.id == customer_id)).first()
    if row is None:
        return frozenset()
    return frozenset(sid for (sid, _), member in zip(wanted, row, strict=True) if member)


def with_segments(
    conn: Connection, snapshots: Iterable[CouponSnapshot | UnknownCoupon], customer: CustomerProfile | None
) -> CustomerProfile | None:
    """The customer with the segments its campaigns ask about; no query when none asks."""
    if customer is None:
        return None
    asked = {
        s.rules.conditions.segment_id
        for s in snapshots
        if isinstance(s, CouponSnapshot) and s.rules.conditions.segment_id is not None
    }
    if not asked:
        return customer
    return replace(customer, segment_ids=memberships(conn, customer.id, asked, datetime.now(UTC)))
