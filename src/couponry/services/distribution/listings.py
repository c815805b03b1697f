"""Lists and previews the dashboard needs beside the API's use cases: every segment by name, how many
customers a segment being built would hold (before it is saved), the latest publications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.segments import members_where
from couponry.adapters.db.tables import campaigns, customers, jobs, publications, segments
from couponry.domain.segments import parse_segment
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


def preview_segment(db: Database, actor: Actor, match: str, rules: Any, now: datetime) -> int:
    """How many customers these rules select now (InvalidSegment names a rule that cannot be read)."""
    actor.require(Permission.MANAGE_CUSTOMERS)
    segment = parse_segment(match, rules)
    with db.read() as conn:
        where = members_where(conn, segment, now)
        return conn.execute(select(func.count()).select_from(customers).where(where)).scalar_one()


def list_publications(db: Database, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The latest publications with their job's progress and campaign name (a store sees its own)."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    query = (
        select(
            publications.c.id,
            publications.c.campaign_id,
            publications.c.segment_id,
            publications.c.notify,
            publications.c.issued,
            publications.c.created_at,
            campaigns.c.name.label("campaign_name"),
            jobs.c.status,
            jobs.c.done,
            jobs.c.total,
            jobs.c.error,
        )
        .join(jobs, jobs.c.id == publications.c.job_id)
        .join(campaigns, campaigns.c.id == publications.c.campaign_id)
        .order_by(publications.c.created_at.desc(), publications.c.id)
        .limit(limit)
    )
    if actor.store_scope:
        query = query.where(campaigns.c.store_id == actor.store_scope)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]
