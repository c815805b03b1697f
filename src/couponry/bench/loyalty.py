"""Loyalty on PostgreSQL: earning on `order.completed` events over HTTP (10 lines each, 4 server
processes, 32 clients) beside a raw INSERT of one ledger row, and maturing 1,000,000 pending lots in
one run of the job beside the same work as raw SQL (one UPDATE ... RETURNING feeding an INSERT ...
SELECT and the balance UPDATE).

Both raw baselines run on the same database in the same run. Maturing is measured on two databases
filled alike, one for ours and one for the raw SQL, so neither runs on the other's dead rows.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from couponry.adapters.db.engine import Database
from couponry.bench import load
from couponry.bench.common import (
    CLIENTS,
    SERVER_PROCESSES,
    Row,
    Section,
    admin_key,
    drop_postgres,
    fresh_postgres,
    num,
    pct,
    postgres_admin,
    postgres_reachable,
    running_server,
    sql,
)

EARN_DB = "couponry_bench_loyalty"
MATURE_DB, MATURE_RAW_DB = "couponry_bench_mature", "couponry_bench_mature_raw"
EARN_TARGET = 0.25
MATURE_TARGET = 2.0
MEMBERS = 200_000
PROGRAM = json.dumps(
    {
        "earn_points": 1,
        "per_amount": 1000,
        "point_value": 1,
        "pending_days": 30,
        "expiry_days": 365,
        "multipliers": [{"products": [], "categories": ["shoes"], "brands": [], "factor": 2}],
    }  # fmt: skip
)
LINES = [
    {
        "product_id": f"p{i}",
        "category": "shoes" if i % 3 == 0 else "hats",
        "brand": "acme",
        "amount": 1234 + i,
    }
    for i in range(10)
]
EVENT = json.dumps(
    {
        "type": "order.completed",
        "customer_id": "c{N}",
        "order_id": "{ORDER}",
        "currency": "USD",
        "lines": LINES,
    }
)
RAW_LEDGER_ROW = load.RawScript(
    [
        "INSERT INTO points_ledger (customer_id, kind, bucket, points, pending_change, available_change, "
        "lifetime_change, source_type, source_id, created_at) VALUES ('c' || lpad(CAST(:n AS text), 6, '0'), "
        "'earned', 'pending', 15, 15, 0, 15, 'order', 'raw', now())"
    ],
    n_max=MEMBERS - 1,
)


def _program_and_members(url: str, members: int) -> None:
    now = datetime.now(UTC)
    sql(url, "INSERT INTO loyalty_program (id, settings, updated_at) VALUES (1, CAST(:s AS json), :now)",
        {"s": PROGRAM, "now": now})  # fmt: skip
    sql(
        url,
        "INSERT INTO customers (id, tags, attributes, marketing_consent, order_count, total_spent, "
        "referral_code, created_at, updated_at) SELECT 'c' || lpad(CAST(g AS text), 6, '0'), "
        "CAST('[]' AS json), CAST('{}' AS json), false, 0, 0, 'r-' || g, :now, :now "
        "FROM generate_series(0, :n - 1) g",
        {"n": members, "now": now},
    )
    sql(
        url,
        "INSERT INTO loyalty_accounts (customer_id, member, joined_at, updated_at) "
        "SELECT 'c' || lpad(CAST(g AS text), 6, '0'), true, :now, :now FROM generate_series(0, :n - 1) g",
        {"n": members, "now": now},
    )
    engine_vacuum(url)


def engine_vacuum(url: str) -> None:
    from sqlalchemy import create_engine, text

    from couponry.adapters.db.engine import normalize_url

    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def _earning(quick: bool) -> tuple[list[Row], list[str]]:
    seconds, raw_seconds, warmup = (4, 3, 1) if quick else (20, 15, 3)
    url = fresh_postgres(EARN_DB)
    try:
        _program_and_members(url, MEMBERS)
        key = admin_key(url)
        raw = load.run_raw(url, RAW_LEDGER_ROW, raw_seconds)
        sql(url, "DELETE FROM points_ledger")
        with running_server(url, workers=SERVER_PROCESSES) as server:
            load.run_http(
                server.base, load.HttpLoad("/v1/events", EVENT.replace("c{N}", "c9{N}"), key, warmup)
            )
            t0 = time.perf_counter()
            result = load.run_http(
                server.base, load.HttpLoad("/v1/events", EVENT, key, seconds, total=MEMBERS)
            )
            elapsed = time.perf_counter() - t0
        earned = sql(
            url, "SELECT count(*), coalesce(sum(points), 0) FROM points_ledger WHERE kind = 'earned'"
        )[0]
        # wrk stops counting at its deadline with up to one request per connection in flight, which the
        # server still completes: judge against the events the database stored for members.
        stored = sql(
            url,
            "SELECT count(*) FROM events e JOIN loyalty_accounts a ON a.customer_id = e.customer_id "
            "WHERE e.type = 'order.completed' AND a.member",
        )[0][0]
        balances = sql(url, "SELECT coalesce(sum(pending), 0) FROM loyalty_accounts")[0][0]
    finally:
        drop_postgres(EARN_DB)
    rate = result.ok / result.seconds if result.seconds else 0.0
    exact = earned[0] == stored and earned[1] == balances and result.other == 0
    rows = [
        Row(
            "earning on order.completed (10 lines): events/s",
            f"{num(rate)} /s",
            f"{num(raw)} tps",
            pct(rate / raw),
            f">= {pct(EARN_TARGET)}",
            rate / raw >= EARN_TARGET,
        ),
        Row(
            "every stored event earned once; balances = ledger sums",
            f"{num(result.ok)} events 202 counted by wrk, {num(stored)} stored, "
            f"{num(earned[0])} earned entries, {num(earned[1])} points, "
            f"pending balances {num(balances)}, {result.other} errors",
            target="exact",
            met=exact,
        ),
    ]
    notes = [
        "Earning: POST /v1/events (`order.completed`, 10 lines, one in three doubled by a category "
        f"multiplier) by {load.http_tool()} with {CLIENTS} connections to "
        f"`couponry serve --workers {SERVER_PROCESSES}`, "
        f"{seconds} s after a {warmup} s warm-up on other customers; each event by another of "
        f"{num(MEMBERS)} members. Latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
        f"({elapsed:.1f} s wall). The event takes the fast path (api/fast_path) and is one statement on "
        "the event loop's connection (adapters/db/order_events): the event row, unique by type and order; "
        "the customer's counters; the member's account locked, the order's lot and `earned` entry inserted "
        "and the cached balances moved, under the program settings this process last read. The statements of "
        "the events a process has in hand at once are committed together, in one pipelined transaction "
        "(LoopReads.fetch_together). It writes only when nothing follows in a transaction (no live trigger, "
        "no first-order referral reward, no `points.changed` webhook), else a transaction does it.",
        f"Raw: {load.raw_tool()} ({CLIENTS} clients, {raw_seconds} s, durable commits) on the same database: "
        "one INSERT of a ledger row per transaction.",
    ]
    return rows, notes


_LOTS = (
    "INSERT INTO points_lots (customer_id, order_id, order_amount, earned, reversed, matured, matures_at, "
    "expires_at, created_at) SELECT 'c' || lpad(CAST(g % :members AS text), 6, '0'), 'o' || g, 10000, 10, 0, "
    "false, :due, :expires, :due FROM generate_series(1, :n) g"
)
_PENDING = (
    "UPDATE loyalty_accounts a SET pending = t.points FROM (SELECT customer_id, sum(earned) AS points "
    "FROM points_lots GROUP BY customer_id) t WHERE a.customer_id = t.customer_id"
)
RAW_MATURE = (
    "WITH m AS (UPDATE points_lots SET matured = true WHERE NOT matured AND matures_at <= :now "
    "RETURNING customer_id, order_id, earned - reversed AS points, expires_at), "
    "ins AS (INSERT INTO points_ledger (customer_id, kind, bucket, points, pending_change, available_change, "
    "lifetime_change, source_type, source_id, expires_at, created_at) SELECT customer_id, 'matured', "
    "'available', points, -points, points, 0, 'order', order_id, expires_at, :now FROM m WHERE points > 0 "
    "RETURNING customer_id, points) "
    "UPDATE loyalty_accounts a SET pending = a.pending - t.points, available = a.available + t.points "
    "FROM (SELECT customer_id, sum(points) AS points FROM ins GROUP BY customer_id) t "
    "WHERE a.customer_id = t.customer_id"
)


def _fill_lots(url: str, lots: int, members: int, due: datetime) -> None:
    _program_and_members(url, members)
    sql(url, _LOTS, {"members": members, "n": lots, "due": due, "expires": due + timedelta(days=365)})
    sql(url, _PENDING)
    engine_vacuum(url)


def _maturing(quick: bool) -> tuple[list[Row], list[str]]:
    from couponry.services.loyalty.jobs import MATURE_BATCH, mature_points

    lots, members = (50_000, 5_000) if quick else (1_000_000, 100_000)
    due = datetime(2030, 1, 1, tzinfo=UTC)
    now = due + timedelta(days=1)
    ours_url, raw_url = fresh_postgres(MATURE_DB), fresh_postgres(MATURE_RAW_DB)
    try:
        _fill_lots(ours_url, lots, members, due)
        _fill_lots(raw_url, lots, members, due)
        # each starts right after a checkpoint: otherwise the one run second paid for the checkpoint the
        # first one's WAL set off (a page's first change after a checkpoint writes the whole page)
        postgres_admin("CHECKPOINT")
        t0 = time.perf_counter()
        sql(raw_url, RAW_MATURE, {"now": now})
        raw_seconds = time.perf_counter() - t0
        db = Database(ours_url)
        try:
            postgres_admin("CHECKPOINT")
            t0 = time.perf_counter()
            matured = mature_points(db, now)
            ours_seconds = time.perf_counter() - t0
        finally:
            db.dispose()
        check = sql(
            ours_url,
            "SELECT (SELECT count(*) FROM points_ledger WHERE kind = 'matured'), "
            "(SELECT count(*) FROM points_lots WHERE NOT matured), "
            "(SELECT sum(available) FROM loyalty_accounts), (SELECT sum(pending) FROM loyalty_accounts)",
        )[0]
        raw_check = sql(raw_url, "SELECT count(*) FROM points_ledger WHERE kind = 'matured'")[0][0]
    finally:
        drop_postgres(MATURE_DB)
        drop_postgres(MATURE_RAW_DB)
    ratio = ours_seconds / raw_seconds if raw_seconds else float("inf")
    exact = (
        check[0] == lots == raw_check and check[1] == 0 and check[2] == matured == lots * 10 and check[3] == 0
    )
    rows = [
        Row(
            f"maturing {num(lots)} pending lots in one run",
            f"{ours_seconds:.1f} s",
            f"{raw_seconds:.1f} s",
            f"{ratio:.2f}x",
            f"<= {MATURE_TARGET:.0f}x raw",
            ratio <= MATURE_TARGET,
        ),
        Row(
            "every lot matured once; balances moved",
            f"{num(check[0])} matured entries, {check[1]} lots left pending, available {num(check[2])}, "
            f"pending {num(check[3])}",
            target="exact",
            met=exact,
        ),
    ]
    notes = [
        f"Maturing: `mature_points` (the `loyalty.mature` job) in process over {num(lots)} lots of "
        f"{num(members)} members, in batches of {num(MATURE_BATCH)} customers, one short transaction each: "
        "their accounts locked in customer order, then one statement flips their due lots, appends the "
        "`matured` entries and moves the cached balances, answering only the points matured when no webhook "
        "subscribes to `points.changed` (no lock is held between batches). Each side starts right after a "
        "CHECKPOINT.",
        "Raw: the same rows as one statement over the whole table in one transaction "
        "(`WITH m AS (UPDATE points_lots … RETURNING …), ins AS (INSERT INTO points_ledger … SELECT … FROM m "
        "RETURNING …) UPDATE loyalty_accounts … FROM (SELECT … GROUP BY …)`), on a second database filled "
        "alike; it holds every lot and account locked until it commits.",
    ]
    return rows, notes


def run(quick: bool) -> Section:
    section = Section(f"Loyalty, PostgreSQL ({CLIENTS} clients, {SERVER_PROCESSES} server processes)")
    why_not = postgres_reachable()
    if why_not is not None:
        section.notes.append(f"Skipped: PostgreSQL is needed ({why_not}).")
        return section
    for part in (_earning, _maturing):
        try:
            rows, notes = part(quick)
        except Exception as exc:  # one part failing (a loaded machine) must not hide the other's figures
            rows, notes = [], [f"{part.__name__.strip('_')} FAILED: {type(exc).__name__}: {exc}"]
        section.rows += rows
        section.notes += notes
    section.notes.append(
        "The load generator, the server processes and PostgreSQL all share the machine's CPU cores."
    )
    return section
