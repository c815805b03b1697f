"""Taking and giving back usage: the guarded counters behind every limit.

A unit of usage is taken by one conditional UPDATE per counter (campaign, coupon, customer) whose WHERE
clause is the limit itself, so two transactions can never both take the last unit: the second one
waits for the row lock, re-reads the row and matches nothing. Rows are always locked in the same order
(by campaign id: the campaign, then its coupon; customer usage last) so two transactions cannot deadlock.
Holds (reservations) count against every limit through the held_* columns.

Only a campaign with a campaign-wide limit (max_redemptions or budget) keeps its counters on its row:
for the others that row would be a lock every redemption of every code queues on, for nothing to
guard. A campaign becoming tracked has its counters recomputed (services.campaigns) under a SHARE
lock on the tables whose writes precede every counter change here, so none is missed or counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from couponry.domain.reasons import Reason


@dataclass(frozen=True, slots=True)
class Usage:
    """One code's share of a redemption or hold: one use and `amount` of budget."""

    campaign_id: str
    code: str
    amount: int
    customer_id: str | None
    # whether the campaign counts its uses on its own row (it has max_redemptions or a budget), as
    # last read; only a hint for which statement to try first, never trusted for a limit
    tracked: bool = True


class LimitReached(Exception):
    def __init__(self, code: str, reason: Reason) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _ordered(usages: Sequence[Usage]) -> list[Usage]:
    return sorted(usages, key=lambda u: (u.campaign_id, u.code))


TRACKED = "(max_redemptions IS NOT NULL OR budget IS NOT NULL)"
_CAMPAIGN_GUARD = (
    "status = 'active' "
    "AND (max_redemptions IS NULL OR redeemed_count + held_count < max_redemptions) "
    "AND (budget IS NULL OR budget_used + budget_held + :amount <= budget)"
)


def take(conn: Connection, usages: Sequence[Usage], *, hold: bool) -> None:
    """Take one use (and the budget) of every code, or raise LimitReached naming the first refusal."""
    used, budget = ("held_count", "budget_held") if hold else ("redeemed_count", "budget_used")
    take_tracked = _take_in_one_statement if conn.dialect.name == "postgresql" else _take_step_by_step
    per_customer: dict[str, int | None] = {}
    for u in _ordered(usages):
        taken = None if u.tracked else _take_untracked(conn, u, used)
        # an untracked attempt matches nothing when the campaign got a limit since it was read, is
        # inactive, or the coupon is used up: the tracked statement then takes it or names the reason
        per_customer[u.campaign_id] = taken[0] if taken else take_tracked(conn, u, used, budget)
    for u in _ordered(usages):
        if u.customer_id is None:
            continue
        limit = per_customer[u.campaign_id]
        guard = (
            ""
            if limit is None
            else " WHERE customer_usage.redeemed_count + customer_usage.held_count < :limit"
        )
        done = conn.execute(
            text(
                f"INSERT INTO customer_usage (campaign_id, customer_id, redeemed_count, held_count) "
                f"VALUES (:campaign, :customer, {0 if hold else 1}, {1 if hold else 0}) "
                f"ON CONFLICT (campaign_id, customer_id) DO UPDATE SET {used} = customer_usage.{used} + 1"
                + guard
                + " RETURNING 1"
            ),
            {"campaign": u.campaign_id, "customer": u.customer_id, "limit": limit},
        ).first()
        if done is None:
            raise LimitReached(u.code, Reason.CUSTOMER_LIMIT_REACHED)


def _take_untracked(conn: Connection, u: Usage, used: str) -> tuple[int | None] | None:
    """A campaign without a campaign-wide limit: only the coupon row is locked and counted."""
    row = conn.execute(
        text(
            f"UPDATE coupons SET {used} = {used} + 1 WHERE code = :code "
            "AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = :id AND c.status = 'active' "
            "AND c.max_redemptions IS NULL AND c.budget IS NULL "
            "AND (c.per_coupon IS NULL OR coupons.redeemed_count + coupons.held_count < c.per_coupon)) "
            "RETURNING (SELECT per_customer FROM campaigns WHERE id = :id) AS per_customer"
        ),
        {"code": u.code, "id": u.campaign_id},
    ).first()
    return None if row is None else (row.per_customer,)


def _take_in_one_statement(conn: Connection, u: Usage, used: str, budget: str) -> int | None:
    """PostgreSQL: the campaign's and the coupon's guarded UPDATEs in one statement, so a hot row is
    locked for one round trip and the commit, not for two. Returns the campaign's per-customer limit."""
    row = conn.execute(
        text(
            f"WITH c AS (UPDATE campaigns SET {used} = {used} + 1, {budget} = {budget} + :amount "
            f"WHERE id = :id AND {_CAMPAIGN_GUARD} RETURNING per_coupon, per_customer), "
            f"k AS (UPDATE coupons SET {used} = coupons.{used} + 1 FROM c WHERE coupons.code = :code "
            "AND (c.per_coupon IS NULL OR coupons.redeemed_count + coupons.held_count < c.per_coupon) "
            "RETURNING 1) "
            "SELECT c.per_customer, (SELECT count(*) FROM k) AS coupon_taken FROM c"
        ),
        {"id": u.campaign_id, "amount": u.amount, "code": u.code},
    ).first()
    if row is None:
        raise LimitReached(u.code, _campaign_refusal(conn, u))
    if not row.coupon_taken:
        raise LimitReached(u.code, Reason.COUPON_USED_UP)
    return row.per_customer


def _take_step_by_step(conn: Connection, u: Usage, used: str, budget: str) -> int | None:
    """SQLite (which has no UPDATE in WITH): the same guards as two statements; writers are serialized."""
    row = conn.execute(
        text(
            f"UPDATE campaigns SET {used} = {used} + 1, {budget} = {budget} + :amount "
            f"WHERE id = :id AND {_CAMPAIGN_GUARD} RETURNING per_coupon, per_customer"
        ),
        {"id": u.campaign_id, "amount": u.amount},
    ).first()
    if row is None:
        raise LimitReached(u.code, _campaign_refusal(conn, u))
    guard = "" if row.per_coupon is None else " AND redeemed_count + held_count < :limit"
    taken = conn.execute(
        text(f"UPDATE coupons SET {used} = {used} + 1 WHERE code = :code{guard} RETURNING 1"),
        {"code": u.code, "limit": row.per_coupon},
    ).first()
    if taken is None:
        raise LimitReached(u.code, Reason.COUPON_USED_UP)
    return row.per_customer


def _campaign_refusal(conn: Connection, u: Usage) -> Reason:
    row = conn.execute(
        text(
            "SELECT status, max_redemptions, budget, redeemed_count + held_count AS used, "
            "budget_used + budget_held AS spent FROM campaigns WHERE id = :id"
        ),
        {"id": u.campaign_id},
    ).one()
    if row.status != "active":
        return Reason.CAMPAIGN_INACTIVE
    if row.max_redemptions is not None and row.used >= row.max_redemptions:
        return Reason.USAGE_LIMIT_REACHED
    return Reason.BUDGET_EXHAUSTED


def give_back(conn: Connection, usages: Sequence[Usage], *, held: bool) -> None:
    """Return uses and budget taken earlier (a rollback, a released or expired hold)."""
    used, budget = ("held_count", "budget_held") if held else ("redeemed_count", "budget_used")
    _move(conn, usages, f"{used} = {used} - 1, {budget} = {budget} - :amount", f"{used} = {used} - 1")


def confirm_holds(conn: Connection, usages: Sequence[Usage]) -> None:
    """Turn held uses into redemptions. No guard: a hold already counted, so its own confirmation
    can never be refused by the limit it holds a place in."""
    _move(
        conn,
        usages,
        "held_count = held_count - 1, redeemed_count = redeemed_count + 1, "
        "budget_held = budget_held - :amount, budget_used = budget_used + :amount",
        "held_count = held_count - 1, redeemed_count = redeemed_count + 1",
    )


def return_budget(conn: Connection, campaign_id: str, amount: int) -> None:
    """A partial refund gives part of a discount back to the budget; the use itself stays."""
    conn.execute(
        text(f"UPDATE campaigns SET budget_used = budget_used - :amount WHERE id = :id AND {TRACKED}"),
        {"id": campaign_id, "amount": amount},
    )


def _move(conn: Connection, usages: Sequence[Usage], campaign_set: str, count_set: str) -> None:
    """Unguarded counter changes, locking rows in take()'s order: each campaign and its coupon, then
    customer usage."""
    ordered = _ordered(usages)
    for u in ordered:
        conn.execute(
            text(f"UPDATE campaigns SET {campaign_set} WHERE id = :id"),
            {"id": u.campaign_id, "amount": u.amount},
        )
        conn.execute(text(f"UPDATE coupons SET {count_set} WHERE code = :code"), {"code": u.code})
    for u in ordered:
        if u.customer_id is not None:
            conn.execute(
                text(f"UPDATE customer_usage SET {count_set} WHERE campaign_id = :c AND customer_id = :u"),
                {"c": u.campaign_id, "u": u.customer_id},
            )
