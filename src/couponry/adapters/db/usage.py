"""Taking and giving back usage: the guarded counters behind every limit.

A unit of usage is taken by one conditional UPDATE per counter (campaign, coupon, customer) whose WHERE
clause is the limit itself, so two transactions can never both take the last unit: the second one
waits for the row lock, re-reads the row and matches nothing. Rows are always locked in the same order
(campaigns by id, then coupons by code, then customer usage) so two redemptions cannot deadlock.
Holds (reservations) count against every limit through the held_* columns.
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


class LimitReached(Exception):
    def __init__(self, code: str, reason: Reason) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _ordered(usages: Sequence[Usage]) -> list[Usage]:
    return sorted(usages, key=lambda u: (u.campaign_id, u.code))


def take(conn: Connection, usages: Sequence[Usage], *, hold: bool) -> None:
    """Take one use (and the budget) of every code, or raise LimitReached naming the first refusal."""
    used, budget = ("held_count", "budget_held") if hold else ("redeemed_count", "budget_used")
    limits: dict[str, tuple[int | None, int | None]] = {}
    ordered = _ordered(usages)
    for u in ordered:
        row = conn.execute(
            text(
                f"UPDATE campaigns SET {used} = {used} + 1, {budget} = {budget} + :amount "
                "WHERE id = :id AND status = 'active' "
                "AND (max_redemptions IS NULL OR redeemed_count + held_count < max_redemptions) "
                "AND (budget IS NULL OR budget_used + budget_held + :amount <= budget) "
                "RETURNING per_coupon, per_customer"
            ),
            {"id": u.campaign_id, "amount": u.amount},
        ).first()
        if row is None:
            raise LimitReached(u.code, _campaign_refusal(conn, u))
        limits[u.campaign_id] = (row.per_coupon, row.per_customer)
    for u in ordered:
        per_coupon = limits[u.campaign_id][0]
        guard = "" if per_coupon is None else " AND redeemed_count + held_count < :limit"
        done = conn.execute(
            text(f"UPDATE coupons SET {used} = {used} + 1 WHERE code = :code{guard}"),
            {"code": u.code, "limit": per_coupon},
        ).rowcount
        if done != 1:
            raise LimitReached(u.code, Reason.COUPON_USED_UP)
    for u in ordered:
        if u.customer_id is None:
            continue
        per_customer = limits[u.campaign_id][1]
        guard = (
            ""
            if per_customer is None
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
            {"campaign": u.campaign_id, "customer": u.customer_id, "limit": per_customer},
        ).first()
        if done is None:
            raise LimitReached(u.code, Reason.CUSTOMER_LIMIT_REACHED)


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
    for u in _ordered(usages):
        conn.execute(
            text(f"UPDATE campaigns SET {used} = {used} - 1, {budget} = {budget} - :amount WHERE id = :id"),
            {"id": u.campaign_id, "amount": u.amount},
        )
    _coupons_and_customers(conn, usages, f"{used} = {used} - 1")


def confirm_holds(conn: Connection, usages: Sequence[Usage]) -> None:
    """Turn held uses into redemptions. No guard: a hold already counted, so its own confirmation
    can never be refused by the limit it holds a place in."""
    for u in _ordered(usages):
        conn.execute(
            text(
                "UPDATE campaigns SET held_count = held_count - 1, redeemed_count = redeemed_count + 1, "
                "budget_held = budget_held - :amount, budget_used = budget_used + :amount WHERE id = :id"
            ),
            {"id": u.campaign_id, "amount": u.amount},
        )
    _coupons_and_customers(conn, usages, "held_count = held_count - 1, redeemed_count = redeemed_count + 1")


def return_budget(conn: Connection, campaign_id: str, amount: int) -> None:
    """A partial refund gives part of a discount back to the budget; the use itself stays."""
    conn.execute(
        text("UPDATE campaigns SET budget_used = budget_used - :amount WHERE id = :id"),
        {"id": campaign_id, "amount": amount},
    )


def _coupons_and_customers(conn: Connection, usages: Sequence[Usage], assignment: str) -> None:
    ordered = _ordered(usages)
    for u in ordered:
        conn.execute(text(f"UPDATE coupons SET {assignment} WHERE code = :code"), {"code": u.code})
    for u in ordered:
        if u.customer_id is not None:
            conn.execute(
                text(f"UPDATE customer_usage SET {assignment} WHERE campaign_id = :c AND customer_id = :u"),
                {"c": u.campaign_id, "u": u.customer_id},
            )
