"""Every segment by name, for pickers (the dashboard's campaign form and segment list)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import segments
from couponry.services.access.actors import Actor, Permission


def list_segments(db: Database, actor: Actor, limit: int = 500) -> list[dict[str, Any]]:
    actor.require(Permission.MANAGE_CUSTOMERS)
    with db.read() as conn:
        rows = conn.execute(
            select(segments.c.id, segments.c.name, segments.c.match, segments.c.rules, segments.c.created_at)
            .order_by(segments.c.created_at.desc(), segments.c.id)
            .limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]
