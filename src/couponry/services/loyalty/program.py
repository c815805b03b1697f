"""The program's settings, joining and leaving, reading a customer's points and ledger, adjustments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import NewEntry, append, ensure_account, lock_account, lots, record_spent
from couponry.adapters.db.tables import customers, loyalty_accounts, loyalty_program, points_ledger
from couponry.domain.errors import InvalidInput, NotFound, PointsRefused
from couponry.domain.loyalty import (
    EXPIRING_SOON_DAYS,
    check_program,
    expires_at,
    expiring,
    program_to_json,
)
from couponry.services.access.actors import Actor, Permission
from couponry.services.ids import new_id
from couponry.services.loyalty.ledger import PROGRAM_ID, announce, current_program

MAX_POINTS = 2**53 - 1


def _program_body(conn: Connection) -> dict[str, Any]:
    row = conn.execute(select(loyalty_program).where(loyalty_program.c.id == PROGRAM_ID)).first()
    if row is None:
        raise NotFound("no loyalty program yet: PUT /v1/loyalty/program")
    return {**program_to_json(check_program(row.settings)), "updated_at": row.updated_at}


def put_program(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Create or replace the program; it applies to orders completed from now on (earned points keep
    the dates they were given)."""
    actor.require(Permission.MANAGE_LOYALTY)
    settings = program_to_json(check_program(body))
    with db.write() as conn:
        row = {"id": PROGRAM_ID, "settings": settings, "updated_at": now}
        if not insert_ignoring_conflicts(conn, loyalty_program, row):
            conn.execute(
                update(loyalty_program)
                .where(loyalty_program.c.id == PROGRAM_ID)
                .values(settings=settings, updated_at=now)
            )
        return _program_body(conn)


def get_program(db: Database, actor: Actor) -> dict[str, Any]:
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        return _program_body(conn)


def _membership(row: Any) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id,
        "member": row.member,
        "joined_at": row.joined_at,
        "left_at": row.left_at,
    }


def join(db: Database, actor: Actor, customer_id: str, now: datetime) -> tuple[bool, dict[str, Any]]:
    """The customer joins (the customer's choice); (joined now, membership). Joining again is a no-op;
    rejoining after leaving keeps the points not yet expired."""
    actor.require(Permission.LOYALTY)
    with db.write() as conn:
        ensure_account(conn, customer_id, now)
        account = lock_account(conn, customer_id)
        joined = not account.member
        if joined:
            conn.execute(
                update(loyalty_accounts)
                .where(loyalty_accounts.c.customer_id == customer_id)
                .values(member=True, joined_at=now, left_at=None, updated_at=now)
            )
        row = conn.execute(
            select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer_id)
        ).one()
        return joined, _membership(row)


def leave(db: Database, actor: Actor, customer_id: str, now: datetime) -> None:
    """The customer leaves: no more earning, exchanges or spins; the ledger stays. 404 if not a member."""
    actor.require(Permission.LOYALTY)
    with db.write() as conn:
        done = conn.execute(
            update(loyalty_accounts)
            .where(loyalty_accounts.c.customer_id == customer_id, loyalty_accounts.c.member.is_(True))
            .values(member=False, left_at=now, updated_at=now)
            .returning(loyalty_accounts.c.customer_id)
        ).first()
    if done is None:
        raise NotFound(f"customer {customer_id} is not a member")


def points(db: Database, actor: Actor, customer_id: str, now: datetime) -> dict[str, Any]:
    """The balances (equal to the ledger's sums) and the points expiring in the next 30 days."""
    actor.require(Permission.LOYALTY)
    with db.read() as conn:
        account = conn.execute(
            select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer_id)
        ).first()
        if account is None:
            known = conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first()
            if known is None:
                raise NotFound(f"no customer {customer_id}")
            return _points_body(customer_id, False, 0, 0, 0, [])
        soon = expiring(lots(conn, customer_id), after=now, until=now + timedelta(days=EXPIRING_SOON_DAYS))
    return _points_body(
        customer_id, account.member, account.pending, account.available, account.lifetime, soon
    )


def _points_body(
    customer_id: str, member: bool, pending: int, available: int, lifetime: int, soon: list[Any]
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "member": member,
        "pending": pending,
        "available": available,
        "lifetime": lifetime,
        "expiring_soon": [{"points": p, "expires_at": when} for when, p in soon],
    }


def entry_body(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "points": row.points,
        "bucket": row.bucket,
        "pending_change": row.pending_change,
        "available_change": row.available_change,
        "lifetime_change": row.lifetime_change,
        "source": {"type": row.source_type, "id": row.source_id},
        "reason": row.reason,
        "expires_at": row.expires_at,
        "created_at": row.created_at,
    }


def ledger(
    db: Database, actor: Actor, customer_id: str, limit: int, after: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The customer's entries, oldest first, `limit` a page; the cursor is the last entry's id."""
    actor.require(Permission.LOYALTY)
    query = (
        select(points_ledger)
        .where(points_ledger.c.customer_id == customer_id)
        .order_by(points_ledger.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(points_ledger.c.id > after)
    with db.read() as conn:
        rows = conn.execute(query).all()
    items = [entry_body(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def adjust(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An admin's correction: positive points are credited to available (expiring like any lot), a
    negative adjustment takes points that are available (409 insufficient_points otherwise)."""
    actor.require(Permission.MANAGE_LOYALTY)
    points_ = body.get("points")
    if not isinstance(points_, int) or isinstance(points_, bool) or points_ == 0 or abs(points_) > MAX_POINTS:
        raise InvalidInput("points", "must be a non-zero whole number")
    customer_id, reason = body["customer_id"], body.get("reason")
    adjustment_id = new_id()
    with db.write() as conn:
        program = current_program(conn)
        if program is None:
            raise NotFound("no loyalty program yet: PUT /v1/loyalty/program")
        if points_ > 0:
            ensure_account(conn, customer_id, now)
            account = lock_account(conn, customer_id)
            entry = NewEntry(
                "adjusted",
                points_,
                "adjustment",
                adjustment_id,
                expires_at=expires_at(program, now),
                reason=reason,
            )
            written = append(conn, customer_id, [entry], now, account.available)[0]
        else:
            left = conn.execute(
                update(loyalty_accounts)
                .where(
                    loyalty_accounts.c.customer_id == customer_id,
                    loyalty_accounts.c.available >= -points_,
                )
                .values(
                    available=loyalty_accounts.c.available + points_,
                    lifetime=loyalty_accounts.c.lifetime + points_,  # domain.loyalty.changes("adjusted")
                    updated_at=now,
                )
                .returning(loyalty_accounts.c.available)
            ).scalar()
            if left is None:
                raise PointsRefused(
                    f"customer {customer_id} has fewer than {-points_} points available",
                    code="insufficient_points",
                )
            entry = NewEntry("adjusted", points_, "adjustment", adjustment_id, reason=reason)
            written = record_spent(conn, customer_id, entry, now, left)
        announce(conn, customer_id, [written], now)
        row = conn.execute(select(points_ledger).where(points_ledger.c.id == written.id)).one()
        return entry_body(row)
