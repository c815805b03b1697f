"""Taking and giving back usage: the guarded counters behind every limit.

A unit of usage is taken by one conditional UPDATE per counter whose WHERE clause is the limit itself,
so two transactions can never both take the last unit: the second one waits for the row lock, re-reads
the row and matches nothing. Rows are always locked in the same order — by campaign id: the campaign's
slot(s), then its coupon; customer usage last — so two transactions cannot deadlock. Holds
(reservations) count against every limit through the held_* columns.

Only what guards a limit is counted on a row, because every counted row is a lock that each redemption
queues on: a campaign-wide limit (max_redemptions, budget) on the campaign's slots (spread over several
rows, adapters.db.limit_slots), a per-coupon limit on the coupon row, a per-customer limit on the
customer's usage row. Other figures are counted from the records (adapters.db.campaign_usage). A
campaign starting to count (services.campaigns) recounts under a SHARE lock on the tables whose writes
precede every counter change here, so none is missed or counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, text

from couponry.adapters.db.driver import execute, psycopg_sql
from couponry.adapters.db.limit_slots import RANDOM_SLOT, change_counters, pick, take_from_any, take_slow
from couponry.domain.reasons import Reason


@dataclass(frozen=True, slots=True)
class Usage:
    """One code's share of a redemption or hold: one use and `amount` of budget."""

    campaign_id: str
    code: str
    amount: int
    customer_id: str | None
    # whether the campaign has a campaign-wide limit (counts on slots), as last read; only a hint for
    # which statement to try first, never trusted for a limit
    tracked: bool = True


class LimitReached(Exception):
    def __init__(self, code: str, reason: Reason) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _ordered(usages: Sequence[Usage]) -> list[Usage]:
    return sorted(usages, key=lambda u: (u.campaign_id, u.code))


_SAVEPOINT = "couponry_slot"


def take(conn: Connection, usages: Sequence[Usage], *, hold: bool) -> None:
    """Take one use (and the budget) of every code, or raise LimitReached naming the first refusal."""
    if conn.dialect.name == "postgresql" and _take_in_one_round_trip(conn, usages, hold):
        return
    used, budget = _columns(hold)
    for u in _ordered(usages):
        _take_campaign_and_coupon(conn, u, used, budget, hold)
    for u in _ordered(usages):
        if u.customer_id is not None:
            done = execute(conn, _customer_sql(hold), _customer_params(u)).fetchone()
            if done is None:
                raise LimitReached(u.code, Reason.CUSTOMER_LIMIT_REACHED)


def take_and_commit(conn: Connection, usages: Sequence[Usage], first: Sequence[tuple[str, Any]]) -> bool:
    """PostgreSQL: the statements `first` (the redemption's INSERTs), every code's guarded statement
    (a random slot and the coupon), every customer's, and the COMMIT, sent as one pipeline: one round
    trip, and the hot rows stay locked only while the server runs the rest of it and commits, never
    while a client round trip is on the wire. A guard that takes nothing makes its statement fail
    (division by zero), which aborts the transaction and so the COMMIT: nothing is half-written. True
    when committed; False when it was rolled back (a guard refused, or a unique key — the order's code —
    was taken): the caller then goes the step-by-step way, which finds the slow path or names why."""
    used, budget = _columns(False)
    ordered = _ordered(usages)
    statements = list(first)
    statements += [(_guarded_fast_sql(used, budget), _fast_params(u)) for u in ordered]
    statements += [(_guarded(_customer_sql(False)), _customer_params(u)) for u in ordered if u.customer_id]
    pg = conn.connection.driver_connection
    try:
        with pg.pipeline():
            for sql, params in statements:
                pg.execute(psycopg_sql(sql), params)
            pg.commit()
    except (psycopg.errors.DivisionByZero, psycopg.IntegrityError):
        pg.rollback()
        return False
    return True


def _guarded(sql: str) -> str:
    """A statement ending in RETURNING, made to fail when it returns no row."""
    return f"WITH taken AS ({sql}) SELECT 1 / (SELECT count(*) FROM taken)::int"


def _columns(hold: bool) -> tuple[str, str]:
    return ("held_count", "budget_held") if hold else ("redeemed_count", "budget_used")


def _take_in_one_round_trip(conn: Connection, usages: Sequence[Usage], hold: bool) -> bool:
    """PostgreSQL's common case in one round trip (psycopg pipeline mode): a savepoint, every code's
    statement (a random slot and the coupon) and every customer's, sent together. True when all took
    their unit; otherwise everything after the savepoint is rolled back, and False sends the caller the
    step-by-step way, which finds the slow path or names the refusal."""
    used, budget = _columns(hold)
    ordered = _ordered(usages)
    statements = [("SAVEPOINT couponry_take", {})]
    statements += [(_fast_sql(conn, used, budget), _fast_params(u)) for u in ordered]
    statements += [(_customer_sql(hold), _customer_params(u)) for u in ordered if u.customer_id is not None]
    pg = conn.connection.driver_connection
    cursors = []
    with pg.pipeline():
        for sql, params in statements:
            cursor = pg.cursor(row_factory=namedtuple_row)
            cursor.execute(psycopg_sql(sql), params)
            cursors.append(cursor)
    taken = [c.fetchone() for c in cursors[1 : 1 + len(ordered)]]
    customers_taken = [c.fetchone() for c in cursors[1 + len(ordered) :]]
    if all(_took(row) for row in taken) and all(customers_taken):
        return True
    pg.execute("ROLLBACK TO SAVEPOINT couponry_take")
    return False


def _took(row: Any) -> bool:
    return (
        row.status == "active"
        and (row.limit_slots == 0 or row.slot_taken)
        and (row.per_coupon is None or row.coupon_taken)
    )


def _customer_sql(hold: bool, row: str | None = None) -> str:
    """The customer's use of the campaign, under its per-customer limit. `row`: a query giving the row
    to insert (by default the VALUES of :campaign and :customer with one use)."""
    used = _columns(hold)[0]
    values = f"VALUES (:campaign, :customer, {0 if hold else 1}, {1 if hold else 0})"
    return (
        "INSERT INTO customer_usage (campaign_id, customer_id, redeemed_count, held_count) "
        f"{row or values} "
        f"ON CONFLICT (campaign_id, customer_id) DO UPDATE SET {used} = customer_usage.{used} + 1 "
        "WHERE customer_usage.redeemed_count + customer_usage.held_count "
        "< coalesce((SELECT per_customer FROM campaigns WHERE id = :campaign), 2147483647) RETURNING 1"
    )


def _customer_params(u: Usage) -> dict[str, Any]:
    return {"campaign": u.campaign_id, "customer": u.customer_id}


def _take_campaign_and_coupon(conn: Connection, u: Usage, used: str, budget: str, hold: bool) -> None:
    """The campaign's share (a random slot, else the slow path over all of them), then the coupon's when
    it has a per-coupon limit."""
    postgres = conn.dialect.name == "postgresql"
    # An UPDATE whose re-check failed keeps its row locked: rolling back to here frees the slot before
    # the slow path locks every slot in order (holding one while waiting for the others could deadlock
    # with another slow path). A campaign read as having no limit tries no slot: no savepoint needed.
    savepoint = postgres and u.tracked
    if savepoint:
        conn.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")
    row = (_fast_in_one_statement if postgres else _fast_step_by_step)(conn, u, used, budget)
    if row.status != "active":
        raise LimitReached(u.code, Reason.CAMPAIGN_INACTIVE)
    coupon_taken = row.coupon_taken
    if row.limit_slots and not row.slot_taken:
        coupon_taken = None  # the coupon waited for the campaign's share: take it after
        spread = savepoint and row.limit_slots > 1
        if not (spread and take_from_any(conn, u.campaign_id, u.amount, hold=hold)):
            if savepoint:
                conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            refused = take_slow(conn, u.campaign_id, u.amount, hold=hold)
            if refused is not None:
                raise LimitReached(u.code, refused)
    if row.per_coupon is not None:
        if coupon_taken is None:
            coupon_taken = conn.execute(
                text(
                    f"UPDATE coupons SET {used} = {used} + 1 WHERE code = :code "
                    "AND redeemed_count + held_count < :limit RETURNING 1"
                ),
                {"code": u.code, "limit": row.per_coupon},
            ).first()
        if not coupon_taken:
            raise LimitReached(u.code, Reason.COUPON_USED_UP)


def _slot_update(used: str, budget: str) -> str:
    return (
        f"UPDATE campaign_limit_slots SET {used} = {used} + 1, {budget} = {budget} + :amount, "
        "uses_left = uses_left - 1, budget_left = budget_left - :amount "
        f"WHERE :try_slot AND campaign_id = :id AND slot = {RANDOM_SLOT} "
        "AND (uses_left IS NULL OR uses_left >= 1) AND (budget_left IS NULL OR budget_left >= :amount) "
        "RETURNING 1"
    )


def _fast_ctes(used: str, budget: str) -> str:
    return (
        f"WITH s AS ({_slot_update(used, budget)}), "
        "c AS (SELECT status, limit_slots, per_coupon FROM campaigns WHERE id = :id), "
        f"k AS (UPDATE coupons SET {used} = coupons.{used} + 1 FROM c WHERE coupons.code = :code "
        "AND c.per_coupon IS NOT NULL AND c.status = 'active' "
        "AND (c.limit_slots = 0 OR EXISTS (SELECT 1 FROM s)) "
        "AND coupons.redeemed_count + coupons.held_count < c.per_coupon RETURNING 1) "
    )


def _fast_sql(conn: Connection, used: str, budget: str) -> str:
    """PostgreSQL: a random slot's guarded UPDATE and the coupon's (when it has a per-coupon limit) in
    one statement, so the hot rows are locked for one round trip and the commit, not for two."""
    return _fast_ctes(used, budget) + (
        "SELECT c.status, c.limit_slots, c.per_coupon, "
        "(SELECT count(*) FROM s) AS slot_taken, (SELECT count(*) FROM k) AS coupon_taken FROM c"
    )


# 1 when the code's guarded statement took what `_took` asks for, else 0
_FAST_TOOK = (
    "SELECT CASE WHEN c.status = 'active' AND (c.limit_slots = 0 OR EXISTS (SELECT 1 FROM s)) "
    "AND (c.per_coupon IS NULL OR EXISTS (SELECT 1 FROM k)) THEN 1 ELSE 0 END AS took FROM c"
)
_FAST_VERDICT = f"SELECT 1 / coalesce(({_FAST_TOOK}), 0)"


def _guarded_fast_sql(used: str, budget: str) -> str:
    """The same, failing (division by zero) unless it took what `_took` asks for; a missing campaign
    row (never deleted, so never missing) fails too."""
    return _fast_ctes(used, budget) + _FAST_VERDICT


def redemption_in_one_statement(inserts: Sequence[tuple[str, Any]], u: Usage) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: a one-code redemption as one statement, for autocommit: the INSERTs `inserts` (the
    redemption's rows), the code's guarded statement (a random slot, then the coupon) and, for a
    customer, the customer's (their use of the campaign, under its per-customer limit) as common table
    expressions, failing (division by zero) unless every guard took its unit, so that nothing is
    written. Rows are locked in take()'s order: the slot before the coupon (the coupon's UPDATE reads
    the slot's result), and both before the customer's use (which reads the code's verdict, `g`); the
    INSERTs lock no counted row. A unique key taken (the order redeemed the code already) fails it too."""
    used, budget = _columns(False)
    ctes, params = [], {}
    for i, (sql, values) in enumerate(inserts):
        ctes.append(f"w{i} AS ({_prefixed(sql, f'w{i}_')})")
        params.update({f"w{i}_{name}": value for name, value in values.items()})
    params.update(_fast_params(u))
    code_guard = _fast_ctes(used, budget).removeprefix("WITH ")
    if u.customer_id is None:
        return "WITH " + ", ".join(ctes) + ", " + code_guard + _FAST_VERDICT, params
    params.update(_customer_params(u))
    customer = _customer_sql(False, row="SELECT :campaign, :customer, 1, 0 FROM g WHERE g.took = 1")
    return (
        "WITH "
        + ", ".join(ctes)
        + ", "
        + code_guard
        + f", g AS ({_FAST_TOOK}), u AS ({customer}) "
        + "SELECT 1 / coalesce((SELECT took FROM g), 0) / (SELECT count(*) FROM u)::int",
        params,
    )


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _prefixed(sql: str, prefix: str) -> str:
    """`sql` with every `:name` parameter renamed `:<prefix>name` (casts written `::type` are left)."""
    return _PARAMETER.sub(lambda m: f":{prefix}{m.group(1)}", sql)


def _fast_params(u: Usage) -> dict[str, Any]:
    return {"id": u.campaign_id, "amount": u.amount, "code": u.code, "try_slot": u.tracked, "pick": pick()}


def _fast_in_one_statement(conn: Connection, u: Usage, used: str, budget: str) -> Any:
    return conn.execute(text(_fast_sql(conn, used, budget)), _fast_params(u)).one()


@dataclass(frozen=True, slots=True)
class _Taken:
    status: str
    limit_slots: int
    per_coupon: int | None
    slot_taken: bool
    coupon_taken: bool | None  # None: not tried yet


def _fast_step_by_step(conn: Connection, u: Usage, used: str, budget: str) -> _Taken:
    """SQLite (no UPDATE in WITH; writers are serialized): the slot, then the campaign's rules."""
    slot_taken = execute(
        conn,
        _slot_update(used, budget),
        {"id": u.campaign_id, "amount": u.amount, "try_slot": True, "pick": pick()},
    ).fetchone()
    status, limit_slots, per_coupon = execute(
        conn, "SELECT status, limit_slots, per_coupon FROM campaigns WHERE id = :id", {"id": u.campaign_id}
    ).fetchone()
    return _Taken(status, limit_slots, per_coupon, slot_taken is not None, None)


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
    change_counters(conn, campaign_id, "budget_used = budget_used - :amount", {"amount": amount})


def _move(conn: Connection, usages: Sequence[Usage], campaign_set: str, count_set: str) -> None:
    """Unguarded counter changes, locking rows in take()'s order: each campaign's slot and its coupon
    (only counted under a per-coupon limit), then customer usage."""
    ordered = _ordered(usages)
    for u in ordered:
        change_counters(conn, u.campaign_id, campaign_set, {"amount": u.amount})
        conn.execute(
            text(
                f"UPDATE coupons SET {count_set} WHERE code = :code AND EXISTS "
                "(SELECT 1 FROM campaigns WHERE id = :id AND per_coupon IS NOT NULL)"
            ),
            {"code": u.code, "id": u.campaign_id},
        )
    for u in ordered:
        if u.customer_id is not None:
            conn.execute(
                text(f"UPDATE customer_usage SET {count_set} WHERE campaign_id = :c AND customer_id = :u"),
                {"c": u.campaign_id, "u": u.customer_id},
            )
