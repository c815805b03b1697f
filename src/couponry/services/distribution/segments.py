"""Use cases of segments: create one, read it, count and list its members (evaluated in SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.segments import load_segment, members_where
from couponry.adapters.db.tables import customers, segments
from couponry.domain.errors import InvalidInput, InvalidSegment, NotFound
from couponry.domain.segments import parse_segment
from couponry.services.access.actors import Actor, Permission
from couponry.services.customers.customers import customer_body
from couponry.services.ids import new_id

MAX_PAGE = 1000


def _body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "match": row.match,
        "rules": row.rules,
        "created_at": row.created_at,
    }


def create_segment(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CUSTOMERS)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidSegment("name", "must be 1 to 200 characters")
    segment = parse_segment(body.get("match", "all"), body.get("rules"))
    row = {
        "id": new_id(),
        "name": name.strip(),
        "match": segment.match,
        "rules": segment.as_data(),
        "created_at": now,
    }
    with db.write() as conn:
        conn.execute(insert(segments).values(**row))
    return dict(row)


def get_segment(db: Database, actor: Actor, segment_id: str) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CUSTOMERS)
    with db.read() as conn:
        row = conn.execute(select(segments).where(segments.c.id == segment_id)).first()
    if row is None:
        raise NotFound(f"no segment {segment_id}")
    return _body(row)


def segment_customers(
    db: Database, actor: Actor, segment_id: str, *, limit: int, now: datetime
) -> dict[str, Any]:
    """How many customers the segment holds now, and the first `limit` of them in id order."""
    actor.require(Permission.MANAGE_CUSTOMERS)
    if not 0 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be from 0 to {MAX_PAGE}")
    with db.read() as conn:
        segment = load_segment(conn, segment_id)
        if segment is None:
            raise NotFound(f"no segment {segment_id}")
        members = members_where(conn, segment, now)
        count = conn.execute(select(func.count()).select_from(customers).where(members)).scalar_one()
        rows = conn.execute(select(customers).where(members).order_by(customers.c.id).limit(limit)).all()
    return {"count": count, "items": [customer_body(r) for r in rows]}
