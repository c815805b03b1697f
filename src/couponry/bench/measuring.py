"""Measuring at scale, PostgreSQL:

- campaign stats of one campaign with 1,000,000 redemptions over 90 days (1 % rolled back whole, 1 %
  partly refunded, 10 % with an `order.completed` amount), ms per request over HTTP (one server
  process, sequential requests), beside the hand-written aggregate over the raw rows (the same figures
  and daily series by one SQL query) run on the same database in the same run; the answers must agree;
- how fast the roll-ups fold raw rows (the scheduler's job, and what a first read after a bulk load pays);
- the redemption throughput with roll-ups on (the schema's sequence columns and a stats read every
  second folding while redeeming) beside the schema without them, the distinct-codes run of the
  redemption part (4 server processes, 32 clients), alternated to share the machine's noise.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from couponry.adapters.db.engine import Database
from couponry.adapters.db.rollups import summarize
from couponry.bench import load
from couponry.bench.common import (
    CLIENTS,
    SERVER_PROCESSES,
    Row,
    Section,
    admin_key,
    create_campaign,
    drop_postgres,
    fresh_postgres,
    num,
    pct,
    postgres_reachable,
    running_server,
    sql,
)
from couponry.services.reporting.rollups import fold

PG_DB = "couponry_bench_measuring"
DAYS = 90
TARGET_P99_MS = 50.0
TARGET_SPEEDUP = 20.0
TARGET_THROUGHPUT_LOSS = 0.10
START = datetime(2026, 8, 1, tzinfo=UTC)

# one platform code, one cart line of 2 units per redemption; g numbers the redemptions
GENERATE = [
    "INSERT INTO redemptions (id, order_id, customer_id, status, currency, result, channel, created_at, "
    "rolled_back_at, rollback_reason) "
    "SELECT 'r' || g, 'o' || g, 'c' || (g % 50000), "
    "CASE WHEN g % 100 = 0 THEN 'rolled_back' ELSE 'succeeded' END, 'USD', "
    "json_build_object('total', 3500 + (g % 7) * 100, 'lines', json_build_array("
    "json_build_object('id', '1', 'amount', 4000 + (g % 7) * 100, 'discount', 1000))), 'online', "
    ":start + (g * (:days * interval '1 day') / :n), NULL, NULL FROM generate_series(1, :n) g ORDER BY g",
    "INSERT INTO redemption_codes (redemption_id, code, campaign_id, order_id, active, issuer, discount, "
    "shipping_discount, returned, created_at) "
    "SELECT 'r' || g, 'BENCHSTATS', :campaign, 'o' || g, g % 100 <> 0, 'platform', 1000, 0, "
    "CASE WHEN g % 100 = 1 THEN 500 ELSE 0 END, :start + (g * (:days * interval '1 day') / :n) "
    "FROM generate_series(1, :n) g ORDER BY g",
    "INSERT INTO redemption_lines (redemption_id, code, line_id, store_id, borne_by, quantity, discount, "
    "refunded_quantity, returned) SELECT 'r' || g, 'BENCHSTATS', '1', 's' || (g % 20), 'platform', 2, 1000, "
    "CASE WHEN g % 100 = 1 THEN 1 ELSE 0 END, CASE WHEN g % 100 = 1 THEN 500 ELSE 0 END "
    "FROM generate_series(1, :n) g",
    "INSERT INTO measure_adjustments (redemption_id, kind, line_id, quantity, created_at) "
    "SELECT 'r' || g, CASE WHEN g % 100 = 0 THEN 'rollback' ELSE 'refund' END, "
    "CASE WHEN g % 100 = 0 THEN NULL ELSE '1' END, CASE WHEN g % 100 = 0 THEN 0 ELSE 1 END, "
    ":start + (g * (:days * interval '1 day') / :n) FROM generate_series(1, :n) g "
    "WHERE g % 100 IN (0, 1) ORDER BY g",
    "INSERT INTO events (type, ref, customer_id, payload, received_at) "
    "SELECT 'order.completed', 'o' || g, 'c' || (g % 50000), json_build_object('amount', 5000), "
    ":start + (g * (:days * interval '1 day') / :n) FROM generate_series(1, :n) g WHERE g % 10 = 3",
]

# The hand-written aggregate: the same figures and daily series straight from the raw rows (a partial
# refund takes half the line's paid amount back: one of its two units).
RAW_STATS = """
SELECT (r.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS redeemed,
       count(DISTINCT rc.redemption_id) AS orders,
       sum(coalesce((e.payload->>'amount')::bigint, (r.result->>'total')::bigint)
           - CASE WHEN l.refunded_quantity > 0 THEN
               (2 * ((r.result->'lines'->0->>'amount')::bigint - (r.result->'lines'->0->>'discount')::bigint)
                * l.refunded_quantity + l.quantity) / (2 * l.quantity) ELSE 0 END) AS revenue,
       sum(rc.discount + rc.shipping_discount - rc.returned) AS cost
FROM redemption_codes rc
JOIN redemptions r ON r.id = rc.redemption_id
JOIN redemption_lines l ON l.redemption_id = rc.redemption_id AND l.code = rc.code
LEFT JOIN events e ON e.type = 'order.completed' AND e.ref = r.order_id
WHERE rc.campaign_id = :campaign AND r.status = 'succeeded'
  AND r.created_at >= :start AND r.created_at < :end
GROUP BY 1 ORDER BY 1
"""


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _stats_latency(base: str, key: str, campaign: str, requests: int) -> tuple[list[float], dict]:
    params = {"from": START.date().isoformat(), "to": (START + timedelta(days=DAYS)).date().isoformat()}
    samples = []
    body: dict = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for i in range(requests + 5):
            t0 = time.perf_counter()
            response = client.get(f"/v1/campaigns/{campaign}/stats", params=params)
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            if i >= 5:  # the first few warm the process up
                samples.append(elapsed)
            body = response.json()
    return samples, body


def _raw_latency(url: str, campaign: str, runs: int) -> tuple[list[float], list]:
    samples = []
    rows: list = []
    params = {"campaign": campaign, "start": START, "end": START + timedelta(days=DAYS + 1)}
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = sql(url, RAW_STATS, params)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, rows


def _stats_part(section: Section, quick: bool) -> None:
    n = 50_000 if quick else 1_000_000
    requests, raw_runs = (50, 3) if quick else (300, 7)
    url = fresh_postgres(PG_DB)
    try:
        key = admin_key(url)
        with running_server(url, workers=1, COUPONRY_RUN_BACKGROUND_WORKERS="false") as server:
            with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {key}"}) as client:
                campaign = create_campaign(
                    client, {"name": "Bench stats", "discount": {"type": "amount", "amount": 1000}}
                )
            t0 = time.perf_counter()
            for statement in GENERATE:
                sql(url, statement, {"start": START, "days": DAYS, "n": n, "campaign": campaign})
            sql(url, "ANALYZE")
            generated = time.perf_counter() - t0
            db = Database(url, pool_size=2)
            try:
                t0 = time.perf_counter()
                touched = fold(db, "UTC", datetime.now(UTC), seconds=3600)  # records the ends
                time.sleep(0.2)
                touched += fold(db, "UTC", datetime.now(UTC), seconds=3600)
                folding = time.perf_counter() - t0
                with db.write() as conn:  # what the scheduler's job does after folding
                    summarize(conn)
            finally:
                db.dispose()
            ours, body = _stats_latency(server.base, key, campaign, requests)
        raw, rows = _raw_latency(url, campaign, raw_runs)
    finally:
        drop_postgres(PG_DB)
    raw_redeemed = sum(int(r.redeemed) for r in rows)
    raw_revenue = sum(int(r.revenue) for r in rows)
    raw_cost = sum(int(r.cost) for r in rows)
    agree = (body["redeemed"], body["revenue"], body["discount_cost"]["total"]) == (
        raw_redeemed,
        raw_revenue,
        raw_cost,
    )
    p50, p99 = statistics.median(ours), _percentile(ours, 0.99)
    raw_p50 = statistics.median(raw)
    speedup = raw_p50 / p50 if p50 else 0.0
    section.rows.append(
        Row(
            f"stats of one campaign, {num(n)} redemptions over {DAYS} days: ms per request p99",
            f"{p99:.1f} ms (p50 {p50:.1f} ms)",
            f"{_percentile(raw, 0.99):.0f} ms (p50 {raw_p50:.0f} ms)",
            target=f"<= {TARGET_P99_MS:.0f} ms",
            met=p99 <= TARGET_P99_MS,
        )
    )
    section.rows.append(
        Row(
            "stats beside the hand-written aggregate over the raw rows: times faster (p50)",
            f"{p50:.1f} ms",
            f"{raw_p50:.0f} ms",
            f"{speedup:.0f} x",
            target=f">= {TARGET_SPEEDUP:.0f} x",
            met=speedup >= TARGET_SPEEDUP,
        )
    )
    section.rows.append(
        Row(
            "the stats answer equals the raw aggregate (redeemed, revenue, cost)",
            f"{num(body['redeemed'])}, {num(body['revenue'])}, {num(body['discount_cost']['total'])}",
            f"{num(raw_redeemed)}, {num(raw_revenue)}, {num(raw_cost)}",
            target="equal",
            met=agree,
        )
    )
    section.notes.append(
        f"Data: {num(n)} redemptions generated by INSERT ... SELECT generate_series in {generated:.1f} s; "
        f"folded into the roll-ups in {folding:.1f} s ({num(touched / folding if folding else 0)} "
        f"redemptions/s, one process), which the scheduler's job does a minute at a time in normal use. "
        f"Ours: {len(ours)} sequential GET /v1/campaigns/{{id}}/stats over {DAYS + 1} days (roll-ups plus "
        f"the unfolded tail), one server process; raw: {len(raw)} runs of one SQL query joining "
        f" redemption_codes, redemptions, redemption_lines and events."
    )


def _redemption_rate(rollups_on: bool, codes: int, seconds: float) -> float:
    from couponry.bench.redemption import _distinct

    name = f"{PG_DB}_{'on' if rollups_on else 'off'}"
    url = fresh_postgres(name)
    try:
        if not rollups_on:  # the schema before measuring: no sequence numbers on these rows
            sql(url, "ALTER TABLE redemption_codes DROP COLUMN seq")
            sql(url, "ALTER TABLE events DROP COLUMN seq")
        key = admin_key(url)
        with running_server(url, workers=SERVER_PROCESSES) as server:
            stop = threading.Event()
            reader = None
            if rollups_on:

                def read_stats() -> None:  # keeps folding while the load runs
                    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {key}"}) as c:
                        campaign = create_campaign(
                            c, {"name": "Bench fold", "discount": {"type": "amount", "amount": 100}}
                        )
                        while not stop.wait(1.0):
                            c.get(f"/v1/campaigns/{campaign}/stats")

                reader = threading.Thread(target=read_stats, daemon=True)
                reader.start()
            try:
                _, rate, _ = _distinct(server, key, url, codes, seconds)
            finally:
                stop.set()
                if reader is not None:
                    reader.join(10)
        return rate
    finally:
        drop_postgres(name)


def _throughput_part(section: Section, quick: bool) -> None:
    codes, seconds, rounds = (2_000, 3, 1) if quick else (60_000, 15, 2)
    off: list[float] = []
    on: list[float] = []
    for _ in range(rounds):
        off.append(_redemption_rate(False, codes, seconds))
        on.append(_redemption_rate(True, codes, seconds))
    rate_off, rate_on = statistics.median(off), statistics.median(on)
    loss = 1 - rate_on / rate_off if rate_off else 0.0
    section.rows.append(
        Row(
            "redemption throughput with roll-ups on (distinct codes): successful redemptions/s",
            num(rate_on),
            f"{num(rate_off)} (roll-ups off)",
            pct(rate_on / rate_off) if rate_off else "-",
            target=f"loss <= {TARGET_THROUGHPUT_LOSS:.0%}",
            met=loss <= TARGET_THROUGHPUT_LOSS,
        )
    )
    section.notes.append(
        f"Throughput: {rounds} alternating rounds each (off, on), {seconds} s of {CLIENTS} clients on "
        f"{SERVER_PROCESSES} server processes; off {', '.join(num(x) for x in off)}, "
        f"on {', '.join(num(x) for x in on)} redemptions/s; 'off' drops the sequence columns (the schema "
        "before measuring), 'on' keeps them and reads a campaign's stats every second during the load "
        f"(folding). Raw SQL tool for the other parts: {load.raw_tool()}."
    )


def run(quick: bool) -> Section:
    """The `measuring` part: campaign stats over the roll-ups beside the raw aggregate."""
    section = Section("Measuring: campaign stats over roll-ups, PostgreSQL")
    why_not = postgres_reachable()
    if why_not is not None:
        section.notes.append(f"Skipped: PostgreSQL is needed ({why_not}).")
        return section
    _stats_part(section, quick)
    return section


def run_throughput(quick: bool) -> Section:
    """The `rollups` part: redemption throughput with the roll-ups' machinery on and off."""
    section = Section("Measuring: redemption throughput with roll-ups on and off, PostgreSQL")
    why_not = postgres_reachable()
    if why_not is not None:
        section.notes.append(f"Skipped: PostgreSQL is needed ({why_not}).")
        return section
    _throughput_part(section, quick)
    return section
