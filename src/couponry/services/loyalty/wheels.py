"""Prize wheels: weighted prizes (a coupon, points, or nothing), each with an optional stock.

A spin is one of the member's free spins of the day (days in the shop's time zone) or costs points;
the prize is drawn with `secrets` among the prizes still in stock, and taken with a conditional UPDATE
(`given < stock`). If another spin took the last unit in between, that prize is left out and the draw
is repeated, so a prize out of stock is never given, however many spins run at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import NewEntry, append, lock_account, record_spent, spend
from couponry.adapters.db.tables import wheel_free_spins, wheel_prizes, wheel_spins, wheels
from couponry.domain.errors import InvalidInput, NotFound, PointsRefused
from couponry.domain.loyalty import Program, draw, expires_at
from couponry.services.access.actors import Actor, Permission
from couponry.services.distribution.rewards import issuable_campaigns, issue_package
from couponry.services.distribution.triggers import check_campaigns_exist
from couponry.services.ids import new_id
from couponry.services.loyalty.ledger import announce, current_program
from couponry.services.loyalty.rewards import refuse_spend


def _prize_body(row: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"position": row.position, "kind": row.kind, "weight": row.weight}
    if row.kind == "coupon":
        body["campaign_id"] = row.campaign_id
    if row.kind == "points":
        body["points"] = row.points
    if row.kind != "nothing":
        body["stock"] = row.stock
        body["remaining"] = None if row.stock is None else max(row.stock - row.given, 0)
    return body


def _body(conn: Connection, row: Any) -> dict[str, Any]:
    prizes = conn.execute(
        select(wheel_prizes).where(wheel_prizes.c.wheel_id == row.id).order_by(wheel_prizes.c.position)
    ).all()
    return {
        "id": row.id,
        "name": row.name,
        "cost_points": row.cost_points,
        "free_spins_per_day": row.free_spins_per_day,
        "prizes": [_prize_body(p) for p in prizes],
        "created_at": row.created_at,
    }


def create_wheel(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """201 with the wheel; 422 for a prize without its campaign or points, or an unknown campaign."""
    actor.require(Permission.MANAGE_LOYALTY)
    if body["cost_points"] == 0 and body["free_spins_per_day"] == 0:
        raise InvalidInput("cost_points", "a wheel needs a cost in points or free spins a day")
    prizes = body["prizes"]
    for i, prize in enumerate(prizes):
        if prize["kind"] == "coupon" and not prize.get("campaign_id"):
            raise InvalidInput(f"prizes[{i}].campaign_id", "is required for a coupon prize")
        if prize["kind"] == "points" and not prize.get("points"):
            raise InvalidInput(f"prizes[{i}].points", "is required for a points prize")
    wheel_id = new_id()
    with db.write() as conn:
        campaign_ids = [p["campaign_id"] for p in prizes if p["kind"] == "coupon"]
        if campaign_ids:
            check_campaigns_exist(conn, "prizes.campaign_id", campaign_ids)
        conn.execute(
            wheels.insert().values(
                id=wheel_id,
                name=body["name"],
                cost_points=body["cost_points"],
                free_spins_per_day=body["free_spins_per_day"],
                created_at=now,
            )
        )
        conn.execute(
            wheel_prizes.insert(),
            [
                {
                    "wheel_id": wheel_id,
                    "position": i,
                    "kind": p["kind"],
                    "campaign_id": p.get("campaign_id") if p["kind"] == "coupon" else None,
                    "points": p.get("points") if p["kind"] == "points" else None,
                    "weight": p["weight"],
                    "stock": p.get("stock") if p["kind"] != "nothing" else None,
                }
                for i, p in enumerate(prizes)
            ],
        )
        return _body(conn, conn.execute(select(wheels).where(wheels.c.id == wheel_id)).one())


def get_wheel(db: Database, actor: Actor, wheel_id: str) -> dict[str, Any]:
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        row = conn.execute(select(wheels).where(wheels.c.id == wheel_id)).first()
        if row is None:
            raise NotFound(f"no wheel {wheel_id}")
        return _body(conn, row)


def list_wheels(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        return [
            _body(conn, r) for r in conn.execute(select(wheels).order_by(wheels.c.created_at, wheels.c.id))
        ]


def _free_spin(conn: Connection, wheel: Any, customer_id: str, day: str) -> bool:
    """Take one of today's free spins if one is left (a conditional UPDATE: never more than N a day)."""
    if wheel.free_spins_per_day <= 0:
        return False
    key = {"wheel_id": wheel.id, "customer_id": customer_id, "day": day}
    insert_ignoring_conflicts(conn, wheel_free_spins, {**key, "used": 0})
    spins = wheel_free_spins.c
    return (
        conn.execute(
            update(wheel_free_spins)
            .where(*(spins[k] == v for k, v in key.items()), spins.used < wheel.free_spins_per_day)
            .values(used=spins.used + 1)
            .returning(spins.used)
        ).first()
        is not None
    )


def _take_prize(conn: Connection, wheel_id: str) -> Any:
    """Draw among the prizes in stock and take the one drawn; a prize that ran out meanwhile is left
    out and the draw repeated. None when every prize is out of stock."""
    prize = wheel_prizes.c
    excluded: set[int] = set()
    while True:
        candidates = [
            p
            for p in conn.execute(
                select(wheel_prizes)
                .where(prize.wheel_id == wheel_id, or_(prize.stock.is_(None), prize.given < prize.stock))
                .order_by(prize.position)
            )
            if p.position not in excluded and p.weight > 0
        ]
        if not candidates:
            return None
        weights = [p.weight for p in candidates]
        chosen = candidates[draw(weights, secrets.randbelow(sum(weights)))]
        if chosen.stock is None:
            return chosen
        taken = conn.execute(
            update(wheel_prizes)
            .where(prize.wheel_id == wheel_id, prize.position == chosen.position, prize.given < prize.stock)
            .values(given=prize.given + 1)
            .returning(prize.position)
        ).first()
        if taken is not None:
            return chosen
        excluded.add(chosen.position)


def spin(
    db: Database, actor: Actor, wheel_id: str, customer_id: str, now: datetime, zone: ZoneInfo
) -> dict[str, Any]:
    """A member spins: a free spin of the day if one is left, else `cost_points` (409 no_spins_left on
    a free-only wheel, insufficient_points, not_a_member; out_of_stock when every prize is gone)."""
    actor.require(Permission.LOYALTY)
    spin_id = new_id()
    with db.write() as conn:
        wheel = conn.execute(select(wheels).where(wheels.c.id == wheel_id)).first()
        if wheel is None:
            raise NotFound(f"no wheel {wheel_id}")
        account = lock_account(conn, customer_id)
        if account is None or not account.member:
            raise PointsRefused(
                f"customer {customer_id} is not a member of the loyalty program", code="not_a_member"
            )
        free = _free_spin(conn, wheel, customer_id, now.astimezone(zone).date().isoformat())
        written = []
        available = account.available
        if not free:
            if wheel.cost_points <= 0:
                raise PointsRefused("no free spins left today", code="no_spins_left")
            left = spend(conn, customer_id, wheel.cost_points, now)
            if left is None:
                raise refuse_spend(conn, customer_id, wheel.cost_points)
            entry = NewEntry("redeemed", -wheel.cost_points, "spin", spin_id, reason=wheel.name)
            written.append(record_spent(conn, customer_id, entry, now, left))
            available = left
        prize = _take_prize(conn, wheel_id)
        if prize is None:
            raise PointsRefused(f"every prize of wheel {wheel_id} is out of stock", code="out_of_stock")
        code = None
        if prize.kind == "coupon":
            package = issuable_campaigns(conn, [prize.campaign_id])
            if package:
                code = issue_package(conn, package, customer_id, now)[0].display_code
        elif prize.kind == "points":
            until = expires_at(current_program(conn) or Program(), now)
            bonus = NewEntry("bonus", prize.points, "spin", spin_id, expires_at=until, reason=wheel.name)
            written += append(conn, customer_id, [bonus], now, available)
        conn.execute(
            wheel_spins.insert().values(
                id=spin_id,
                wheel_id=wheel_id,
                customer_id=customer_id,
                position=prize.position,
                kind=prize.kind,
                code=code,
                points_paid=0 if free else wheel.cost_points,
                free=free,
                created_at=now,
            )
        )
        announce(conn, customer_id, written, now)
    return {
        "id": spin_id,
        "wheel_id": wheel_id,
        "customer_id": customer_id,
        "prize": _prize_body(prize),
        "code": code,
        "free": free,
        "points_paid": 0 if free else wheel.cost_points,
        "created_at": now,
    }
