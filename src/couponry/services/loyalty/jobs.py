"""The scheduled work of the loyalty program: maturing pending points, expiring available ones (oldest
first), and the monthly statement mail.

Each runs in short batches, one transaction each, so no lock on the accounts or lots is held for long.
Each is idempotent: a lot matures once (its `matured` flag is flipped by a conditional UPDATE that
only the first transaction finds false); expiry is computed from the ledger's sums, which include the
earlier expiries, so a second run finds nothing left to expire; a statement is queued once per member
and month (the outbox's dedupe key, and the account's `statement_month`). Several workers may run them
at once: every batch takes the account rows it changes, in customer-id order, before anything else.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, text, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.ledger import NewEntry, Written, append, lock_account, lots
from couponry.adapters.db.subscriptions import subscribed_types
from couponry.adapters.db.tables import customers, loyalty_accounts, points_ledger, points_lots
from couponry.domain.loyalty import EXPIRING_SOON_DAYS, due_to_expire, expiring
from couponry.services.loyalty.ledger import announce
from couponry.services.messaging.mails import queue_points_statement
from couponry.services.scheduling.scheduler import JobContext

MATURE_BATCH = 1000  # customers per transaction
PAGE = 500


# --- maturing -------------------------------------------------------------------------------------


def mature_points(db: Database, now: datetime, batch: int = MATURE_BATCH) -> int:
    """Make every lot due by `now` available (a `matured` entry for what the order still holds);
    returns the points matured. A batch is every due lot of the next `batch` customers (in id order,
    from the partial index of pending lots), so each account is locked and moved once per run."""
    matured, after = 0, ""
    lots = points_lots.c
    while True:
        with db.write() as conn:
            customer_ids = list(
                conn.execute(
                    select(lots.customer_id)
                    .where(~lots.matured, lots.matures_at <= now, lots.customer_id > after)
                    .group_by(lots.customer_id)
                    .order_by(lots.customer_id)
                    .limit(batch)
                ).scalars()
            )
            if not customer_ids:
                return matured
            _lock_accounts(conn, customer_ids)
            if conn.dialect.name == "postgresql":
                matured += _mature_in_sql(conn, customer_ids, now)
            else:
                matured += _mature_rows(conn, _due_lot_ids(conn, customer_ids, now), now)
        after = customer_ids[-1]


def _due_lot_ids(conn: Connection, customer_ids: list[str], now: datetime) -> list[int]:
    lots = points_lots.c
    return list(
        conn.execute(
            select(lots.id).where(lots.customer_id.in_(customer_ids), ~lots.matured, lots.matures_at <= now)
        ).scalars()
    )


def _lock_accounts(conn: Connection, customer_ids: list[str]) -> None:
    """Take the accounts in customer-id order: every other writer takes one account first, too."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: the write transaction already excludes every other writer
    conn.execute(
        select(loyalty_accounts.c.customer_id)
        .where(loyalty_accounts.c.customer_id.in_(customer_ids))
        .order_by(loyalty_accounts.c.customer_id)
        .with_for_update()
    ).all()


# The due lots of a batch of customers (whose accounts the transaction holds): flip them, append their
# `matured` entries, move the balances. It answers each entry (for `points.changed`) only when a webhook
# subscribes to it; otherwise just the points, so a batch does not send its thousands of rows to Python.
_MATURE_CTES = """
    WITH m AS (
        UPDATE points_lots SET matured = true
        WHERE customer_id = ANY(:customers) AND NOT matured AND matures_at <= :now
        RETURNING customer_id, order_id, earned - reversed AS points, expires_at
    ), ins AS (
        INSERT INTO points_ledger (customer_id, kind, bucket, points, pending_change, available_change,
                                   lifetime_change, source_type, source_id, expires_at, created_at)
        SELECT customer_id, 'matured', 'available', points, -points, points, 0, 'order', order_id,
               expires_at, :now
        FROM m WHERE points > 0
        RETURNING id, customer_id, points
    ), totals AS (
        SELECT customer_id, sum(points) AS points FROM ins GROUP BY customer_id
    ), upd AS (
        UPDATE loyalty_accounts a
        SET pending = a.pending - t.points, available = a.available + t.points, updated_at = :now
        FROM totals t WHERE a.customer_id = t.customer_id
        RETURNING a.customer_id, a.available
    )
"""
_MATURE_ANSWERING_EACH = text(
    _MATURE_CTES
    + "SELECT ins.id, ins.customer_id, ins.points, upd.available "
    + "FROM ins JOIN upd ON upd.customer_id = ins.customer_id"
)
_MATURE_ANSWERING_SUM = text(_MATURE_CTES + "SELECT coalesce(sum(points), 0) FROM ins")


def _mature_in_sql(conn: Connection, customer_ids: list[str], now: datetime) -> int:
    """PostgreSQL: the batch in one statement (flip the lots, append the entries, move the balances)."""
    params = {"customers": customer_ids, "now": now}
    if "points.changed" not in subscribed_types(conn):
        return int(conn.execute(_MATURE_ANSWERING_SUM, params).scalar_one())
    rows = conn.execute(_MATURE_ANSWERING_EACH, params).all()
    _announce_batch(
        conn, [(r.id, r.customer_id, r.points) for r in rows], {r.customer_id: r.available for r in rows}, now
    )
    return sum(r.points for r in rows)


def _mature_rows(conn: Connection, ids: list[int], now: datetime) -> int:
    """Any database: the same steps as statements from Python."""
    flipped = conn.execute(
        update(points_lots)
        .where(points_lots.c.id.in_(ids), points_lots.c.matured.is_(False))
        .values(matured=True)
        .returning(
            points_lots.c.id,
            points_lots.c.customer_id,
            points_lots.c.order_id,
            points_lots.c.earned,
            points_lots.c.reversed,
            points_lots.c.expires_at,
        )
    ).all()
    by_customer: dict[str, list[Any]] = defaultdict(list)
    for lot in sorted(flipped, key=lambda r: r.id):
        if lot.earned - lot.reversed > 0:
            by_customer[lot.customer_id].append(lot)
    total = 0
    for customer_id in sorted(by_customer):
        account = lock_account(conn, customer_id)
        entries = [
            NewEntry("matured", lot.earned - lot.reversed, "order", lot.order_id, expires_at=lot.expires_at)
            for lot in by_customer[customer_id]
        ]
        announce(conn, customer_id, append(conn, customer_id, entries, now, account.available), now)
        total += sum(e.points for e in entries)
    return total


def _announce_batch(
    conn: Connection, entries: list[tuple[int, str, int]], available: dict[str, int], now: datetime
) -> None:
    """points.changed for entries appended in bulk: each customer's balance after each of its entries is
    the final balance less the entries that came after it."""
    if not entries or "points.changed" not in subscribed_types(conn):
        return
    by_customer: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for entry_id, customer_id, points in entries:
        by_customer[customer_id].append((entry_id, points))
    for customer_id, items in by_customer.items():
        balance = available[customer_id]
        written = []
        for entry_id, points in sorted(items, reverse=True):
            written.append(Written(entry_id, NewEntry("matured", points, "order", ""), balance))
            balance -= points
        announce(conn, customer_id, reversed(written), now)


# --- expiry ---------------------------------------------------------------------------------------


def expire_points(db: Database, now: datetime) -> int:
    """Expire the unused rest of every lot whose date has passed, oldest first; returns the points."""
    expired, after = 0, ""
    ledger, account = points_ledger.c, loyalty_accounts.c
    while True:
        with db.write() as conn:
            page = (
                conn.execute(
                    select(ledger.customer_id)
                    .join(loyalty_accounts, account.customer_id == ledger.customer_id)
                    .where(
                        ledger.expires_at <= now,
                        or_(
                            account.expiry_checked_until.is_(None),
                            ledger.expires_at > account.expiry_checked_until,
                        ),
                        ledger.customer_id > after,
                    )
                    .group_by(ledger.customer_id)
                    .order_by(ledger.customer_id)
                    .limit(PAGE)
                )
                .scalars()
                .all()
            )
            for customer_id in page:
                expired += _expire_one(conn, customer_id, now)
        if len(page) < PAGE:
            return expired
        after = page[-1]


def _expire_one(conn: Connection, customer_id: str, now: datetime) -> int:
    row = lock_account(conn, customer_id)
    points = due_to_expire(lots(conn, customer_id), now)
    if points > 0:
        entry = NewEntry("expired", -points, "expiry", now.date().isoformat())
        announce(conn, customer_id, append(conn, customer_id, [entry], now, row.available), now)
    conn.execute(
        update(loyalty_accounts)
        .where(loyalty_accounts.c.customer_id == customer_id)
        .values(expiry_checked_until=now)
    )
    return points


# --- the monthly statement ------------------------------------------------------------------------


def previous_month(now: datetime) -> tuple[str, datetime, datetime]:
    """("YYYY-MM", start, end) of the calendar month (UTC) before the one `now` falls in."""
    end = datetime(now.year, now.month, 1, tzinfo=UTC)
    start = datetime(end.year - (end.month == 1), 12 if end.month == 1 else end.month - 1, 1, tzinfo=UTC)
    return f"{start.year:04d}-{start.month:02d}", start, end


def queue_statements(db: Database, now: datetime) -> int:
    """Queue last month's statement for every member who joined before this month and consents to
    marketing mail; once per member and month however often it runs. Returns how many were queued."""
    month, start, end = previous_month(now)
    queued, after = 0, ""
    account, customer = loyalty_accounts.c, customers.c
    while True:
        with db.write() as conn:
            page = conn.execute(
                select(
                    account.customer_id,
                    account.pending,
                    account.available,
                    customer.email,
                    customer.marketing_consent,
                )
                .join(customers, customer.id == account.customer_id, isouter=True)
                .where(
                    account.member.is_(True),
                    account.joined_at < end,
                    or_(account.statement_month.is_(None), account.statement_month < month),
                    account.customer_id > after,
                )
                .order_by(account.customer_id)
                .limit(PAGE)
            ).all()
            for row in page:
                if row.marketing_consent and row.email:
                    statement = _statement(conn, row, start, end, now)
                    queued += queue_points_statement(conn, row.customer_id, month, statement, now)
            if page:
                conn.execute(
                    update(loyalty_accounts)
                    .where(account.customer_id.in_([r.customer_id for r in page]))
                    .values(statement_month=month)
                )
        if len(page) < PAGE:
            return queued
        after = page[-1].customer_id


def _statement(conn: Connection, row: Any, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    ledger = points_ledger.c
    in_month = and_(
        ledger.customer_id == row.customer_id, ledger.created_at >= start, ledger.created_at < end
    )
    earned = conn.execute(
        select(func.coalesce(func.sum(ledger.points), 0)).where(
            in_month,
            or_(ledger.kind.in_(("earned", "bonus")), and_(ledger.kind == "adjusted", ledger.points > 0)),
        )
    ).scalar_one()
    spent = conn.execute(
        select(func.coalesce(func.sum(-ledger.points), 0)).where(in_month, ledger.kind == "redeemed")
    ).scalar_one()
    soon = expiring(lots(conn, row.customer_id), after=now, until=now + timedelta(days=EXPIRING_SOON_DAYS))
    return {
        "available": row.available,
        "pending": row.pending,
        "earned": int(earned),
        "spent": int(spent),
        "expiring_soon": [{"points": p, "expires_at": when.isoformat()} for when, p in soon],
    }


# --- as scheduled jobs ----------------------------------------------------------------------------


def mature_job(ctx: JobContext) -> int:
    return mature_points(ctx.db, ctx.now)


def expire_job(ctx: JobContext) -> int:
    return expire_points(ctx.db, ctx.now)


def statement_job(ctx: JobContext) -> int:
    return queue_statements(ctx.db, ctx.now)
