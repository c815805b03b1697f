"""What the loyalty web pages show beside the API's answers: a customer's latest ledger entries (the API
pages oldest first) and the names and discounts of the campaigns that rewards and prizes give."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.campaign_rules import benefit_from_dict
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, points_ledger
from couponry.domain.wording import describe_discount
from couponry.services.access.actors import Actor, Permission
from couponry.services.loyalty.program import entry_body


def recent_entries(db: Database, actor: Actor, customer_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The customer's latest ledger entries, newest first (the same shape as GET .../points/ledger)."""
    actor.require(Permission.LOYALTY)
    query = (
        select(points_ledger)
        .where(points_ledger.c.customer_id == customer_id)
        .order_by(points_ledger.c.id.desc())
        .limit(limit)
    )
    with db.read() as conn:
        return [entry_body(row) for row in conn.execute(query)]


def campaign_offers(db: Database, campaign_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """{campaign id: {"name", "discount" in words}} for the campaigns that rewards and prizes name."""
    ids = set(campaign_ids)
    if not ids:
        return {}
    query = select(campaigns.c.id, campaigns.c.name, campaigns.c.currency, campaigns.c.definition).where(
        campaigns.c.id.in_(ids)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return {
        r.id: {
            "name": r.name,
            "discount": describe_discount(benefit_from_dict(r.definition["discount"]), r.currency),
        }
        for r in rows
    }
