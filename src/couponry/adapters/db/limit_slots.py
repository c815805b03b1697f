"""Campaign-wide limits spread over K counter rows ("slots"), so one hot campaign is not one row lock.

Each slot of a campaign (campaign_limit_slots, K = campaigns.limit_slots) holds a share of what is left
of the campaign's limits (`uses_left`, `budget_left`; NULL for a limit the campaign does not have) and a
share of its usage counters. The shares never add up to more than what is left, so:

- Taking a unit (a redemption or a hold) spends from ONE slot picked at random, with a guarded UPDATE
  (`uses_left >= 1 AND budget_left >= amount`, see adapters.db.usage): concurrent redemptions of a hot
  campaign mostly lock different rows, and together the slots can never hand out more than the limit.
- When the picked slot cannot pay, PostgreSQL first takes from the richest slot no other transaction
  holds (`take_from_any`, which never waits). When none can pay either (the end of a limit is near, or
  given-back quota is not spread yet), `take_slow` locks EVERY slot of the campaign in slot order, counts
  the usage from their counters against the campaign's limits (the truth, not the shares), takes the
  unit or names the reason it cannot, and spreads what is left evenly over the slots again.
- Giving back (rollbacks, released or expired holds, partial refunds) and confirming a hold change the
  counters of one random slot and leave the shares alone: what was given back is spread again by the
  next slow take or change of the campaign. Shares may so under-state what is left, never over-state
  it, and giving back never locks more than one slot. One slot's counters may thus go negative; only
  their sums mean anything.
- A change of the campaign (limits or status) spreads again under the same ordered locks; a campaign
  that is not active has shares of zero, so a pause stops takes on the slot rows themselves.

K comes from the server setting COUPONRY_LIMIT_SLOTS when a campaign-wide limit is set (created, or
added by PATCH) and stays until the limit is removed; SQLite, which serializes writers, always uses 1.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, text

from couponry.adapters.db.campaign_usage import CampaignUsage
from couponry.adapters.db.tables import campaign_limit_slots as slots
from couponry.adapters.db.tables import campaigns
from couponry.domain.reasons import Reason

COUNTERS = ("redeemed_count", "held_count", "budget_used", "budget_held")


# One slot of campaign :id picked by the random number :pick drawn in Python. Not random() in SQL: a
# statement re-checked after waiting for a row lock (EvalPlanQual) may evaluate it again inside a WITH
# query, and then look for another slot than the one it locked. A campaign without slots (0) matches
# no row: `NULLIF` turns the modulo into NULL.
RANDOM_SLOT = "(SELECT :pick % NULLIF(limit_slots, 0) FROM campaigns WHERE id = :id)"


def pick() -> int:
    return random.randrange(1 << 30)


def shares(left: int | None, k: int) -> list[int | None]:
    """`left` spread as evenly as possible over k slots (None: no such limit)."""
    if left is None:
        return [None] * k
    q, r = divmod(max(left, 0), k)
    return [q + (1 if i < r else 0) for i in range(k)]


def effective_slots(conn: Connection, wanted: int) -> int:
    """SQLite serializes writers: spreading brings nothing there, one slot keeps the code path."""
    return max(1, wanted) if conn.dialect.name == "postgresql" else 1


def _left(limit: int | None, used: int, status: str) -> int | None:
    if limit is None:
        return None
    return limit - used if status == "active" else 0


def create_slots(conn: Connection, campaign_id: str, k: int, usage: CampaignUsage) -> None:
    """Start counting a campaign on K slots, with the usage counted so far (from its records)."""
    c = _campaign(conn, campaign_id)
    k = effective_slots(conn, k)
    uses = shares(_left(c.max_redemptions, usage.redeemed_count + usage.held_count, c.status), k)
    budget = shares(_left(c.budget, usage.budget_used + usage.budget_held, c.status), k)
    conn.execute(
        slots.insert(),
        [
            {
                "campaign_id": campaign_id,
                "slot": i,
                "uses_left": uses[i],
                "budget_left": budget[i],
                **{name: getattr(usage, name) if i == 0 else 0 for name in COUNTERS},
            }
            for i in range(k)
        ],
    )
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(limit_slots=k))


def remove_slots(conn: Connection, campaign_id: str) -> None:
    """The campaign has no campaign-wide limit any more: nothing to guard, its figures come from records."""
    conn.execute(slots.delete().where(slots.c.campaign_id == campaign_id))
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(limit_slots=0))


def respread(conn: Connection, campaign_id: str) -> None:
    """Spread what is left of the campaign's (possibly new) limits evenly over its slots again."""
    locked = _lock_all(conn, campaign_id)
    if locked:
        _spread(conn, campaign_id, locked, _campaign(conn, campaign_id), None, 0, hold=False)


def take_from_any(conn: Connection, campaign_id: str, amount: int, *, hold: bool) -> bool:
    """PostgreSQL, when the random slot ran dry: take from the slot with the largest share among those
    no other transaction holds (SKIP LOCKED: this never waits, so it cannot deadlock whatever this
    transaction already holds). False when none could pay; then only the slow path can tell."""
    count, money = ("held_count", "budget_held") if hold else ("redeemed_count", "budget_used")
    return (
        conn.execute(
            text(
                f"UPDATE campaign_limit_slots SET {count} = {count} + 1, {money} = {money} + :amount, "
                "uses_left = uses_left - 1, budget_left = budget_left - :amount "
                "WHERE campaign_id = :id AND slot = (SELECT slot FROM campaign_limit_slots "
                f"WHERE campaign_id = :id AND {_CAN_PAY} "
                "ORDER BY coalesce(uses_left, budget_left) DESC LIMIT 1 FOR UPDATE SKIP LOCKED) "
                f"AND {_CAN_PAY} RETURNING 1"
            ),
            {"id": campaign_id, "amount": amount},
        ).first()
        is not None
    )


_CAN_PAY = "(uses_left IS NULL OR uses_left >= 1) AND (budget_left IS NULL OR budget_left >= :amount)"


def take_slow(conn: Connection, campaign_id: str, amount: int, *, hold: bool) -> Reason | None:
    """Take one use and `amount` of budget judged on the whole campaign, all its slots locked in slot
    order; None when taken (or when the campaign has no campaign-wide limit any more)."""
    locked = _lock_all(conn, campaign_id)
    if not locked:
        return None
    c = _campaign(conn, campaign_id)  # read after the locks: a change of limits committed by now is seen
    used = sum(r.redeemed_count + r.held_count for r in locked)
    spent = sum(r.budget_used + r.budget_held for r in locked)
    if c.status != "active":
        return Reason.CAMPAIGN_INACTIVE
    if c.max_redemptions is not None and used >= c.max_redemptions:
        return Reason.USAGE_LIMIT_REACHED
    if c.budget is not None and spent + amount > c.budget:
        return Reason.BUDGET_EXHAUSTED
    _spread(conn, campaign_id, locked, c, random.choice(locked).slot, amount, hold=hold)
    return None


def _lock_all(conn: Connection, campaign_id: str) -> Sequence[Any]:
    query = select(slots).where(slots.c.campaign_id == campaign_id).order_by(slots.c.slot)
    if conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serializes writers
        query = query.with_for_update()
    return conn.execute(query).all()


def _campaign(conn: Connection, campaign_id: str) -> Any:
    return conn.execute(
        select(campaigns.c.status, campaigns.c.max_redemptions, campaigns.c.budget).where(
            campaigns.c.id == campaign_id
        )
    ).one()


def _spread(
    conn: Connection,
    campaign_id: str,
    locked: Sequence[Any],
    c: Any,
    taker: int | None,
    amount: int,
    *,
    hold: bool,
) -> None:
    """Rewrite every locked slot's shares from the sums of their counters (plus the unit `taker` takes)."""
    took = 0 if taker is None else 1
    used = sum(r.redeemed_count + r.held_count for r in locked) + took
    spent = sum(r.budget_used + r.budget_held for r in locked) + took * amount
    k = len(locked)
    uses = shares(_left(c.max_redemptions, used, c.status), k)
    budget = shares(_left(c.budget, spent, c.status), k)
    count, money = ("held_count", "budget_held") if hold else ("redeemed_count", "budget_used")
    conn.execute(
        text(
            f"UPDATE campaign_limit_slots SET uses_left = :uses, budget_left = :budget, "
            f"{count} = {count} + :took, {money} = {money} + :amount "
            "WHERE campaign_id = :id AND slot = :slot"
        ),
        [
            {
                "id": campaign_id,
                "slot": r.slot,
                "uses": uses[i],
                "budget": budget[i],
                "took": took if r.slot == taker else 0,
                "amount": amount if r.slot == taker else 0,
            }
            for i, r in enumerate(locked)
        ],
    )


def change_counters(conn: Connection, campaign_id: str, changes: str, params: dict[str, Any]) -> None:
    """Unguarded counter changes (giving back, confirming a hold) on one random slot of the campaign;
    a campaign without slots matches no row. The shares stay: see the module's docstring."""
    conn.execute(
        text(f"UPDATE campaign_limit_slots SET {changes} WHERE campaign_id = :id AND slot = {RANDOM_SLOT}"),
        {**params, "id": campaign_id, "pick": pick()},
    )


def usage_of(conn: Connection, campaign_ids: Collection[str]) -> dict[str, CampaignUsage]:
    """The usage of campaigns counted on slots: the sums of their slots' counters."""
    if not campaign_ids:
        return {}
    rows = conn.execute(
        select(slots.c.campaign_id, *(func.sum(slots.c[name]) for name in COUNTERS))
        .where(slots.c.campaign_id.in_(list(campaign_ids)))
        .group_by(slots.c.campaign_id)
    )
    return {r[0]: CampaignUsage(**{n: int(v) for n, v in zip(COUNTERS, r[1:], strict=True)}) for r in rows}
