"""The rewards catalog: coupons of a campaign that members buy with points, with an optional stock.

An exchange is one transaction of two conditional UPDATEs, the account's (`available >= cost`, member)
and then the reward's (`issued < stock`): either refuses, and the transaction is rolled back whole, so
concurrent exchanges can neither overdraw a balance nor exceed the stock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update

from couponry.adapters.db import ledger as store
from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import NewEntry, record_spent
from couponry.adapters.db.tables import loyalty_accounts, reward_exchanges, rewards
from couponry.domain.errors import NotFound, PointsRefused
from couponry.services.access.actors import Actor, Permission
from couponry.services.distribution.rewards import issuable_campaigns, issue_package
from couponry.services.distribution.triggers import check_campaigns_exist
from couponry.services.ids import new_id
from couponry.services.loyalty.ledger import announce


def _body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "points": row.points,
        "campaign_id": row.campaign_id,
        "stock": row.stock,
        "issued": row.issued,
        "remaining": None if row.stock is None else max(row.stock - row.issued, 0),
        "created_at": row.created_at,
    }


def create_reward(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """201 with the reward; an unknown campaign is 422 unknown_campaign."""
    actor.require(Permission.MANAGE_LOYALTY)
    reward_id = new_id()
    with db.write() as conn:
        check_campaigns_exist(conn, "campaign_id", [body["campaign_id"]])
        conn.execute(
            rewards.insert().values(
                id=reward_id,
                name=body["name"],
                points=body["points"],
                campaign_id=body["campaign_id"],
                stock=body.get("stock"),
                created_at=now,
            )
        )
        return _body(conn.execute(select(rewards).where(rewards.c.id == reward_id)).one())


def list_rewards(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        rows = conn.execute(select(rewards).order_by(rewards.c.created_at, rewards.c.id)).all()
    return [_body(r) for r in rows]


def get_reward(db: Database, actor: Actor, reward_id: str) -> dict[str, Any]:
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        row = conn.execute(select(rewards).where(rewards.c.id == reward_id)).first()
    if row is None:
        raise NotFound(f"no reward {reward_id}")
    return _body(row)


def refuse_spend(conn: Connection, customer_id: str, points: int) -> PointsRefused:
    """Why `ledger.spend` found no row: the customer is not a member, or has too few points."""
    member = conn.execute(
        select(loyalty_accounts.c.member).where(loyalty_accounts.c.customer_id == customer_id)
    ).scalar()
    if not member:
        return PointsRefused(
            f"customer {customer_id} is not a member of the loyalty program", code="not_a_member"
        )
    return PointsRefused(
        f"customer {customer_id} has fewer than {points} points available", code="insufficient_points"
    )


def exchange(db: Database, actor: Actor, reward_id: str, customer_id: str, now: datetime) -> dict[str, Any]:
    """Spend the reward's points for one coupon of its campaign: 201 {code, points, balance}; 409
    not_a_member, insufficient_points or out_of_stock (nothing written)."""
    actor.require(Permission.LOYALTY)
    exchange_id = new_id()
    with db.write() as conn:
        reward = conn.execute(select(rewards).where(rewards.c.id == reward_id)).first()
        if reward is None:
            raise NotFound(f"no reward {reward_id}")
        left = store.spend(conn, customer_id, reward.points, now)
        if left is None:
            raise refuse_spend(conn, customer_id, reward.points)
        taken = conn.execute(
            update(rewards)
            .where(
                rewards.c.id == reward_id, or_(rewards.c.stock.is_(None), rewards.c.issued < rewards.c.stock)
            )
            .values(issued=rewards.c.issued + 1)
            .returning(rewards.c.id)
        ).first()
        package = issuable_campaigns(conn, [reward.campaign_id])
        if taken is None or not package:
            raise PointsRefused(f"reward {reward_id} is out of stock", code="out_of_stock")
        (coupon,) = issue_package(conn, package, customer_id, now)
        conn.execute(
            reward_exchanges.insert().values(
                id=exchange_id,
                reward_id=reward_id,
                customer_id=customer_id,
                code=coupon.display_code,
                points=reward.points,
                created_at=now,
            )
        )
        entry = NewEntry("redeemed", -reward.points, "reward", exchange_id, reason=reward.name)
        announce(conn, customer_id, [record_spent(conn, customer_id, entry, now, left)], now)
    return {
        "id": exchange_id,
        "reward_id": reward_id,
        "customer_id": customer_id,
        "code": coupon.display_code,
        "points": reward.points,
        "balance": left,
        "created_at": now,
    }
