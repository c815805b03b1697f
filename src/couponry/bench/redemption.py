"""Redemption throughput over HTTP on PostgreSQL (4 server processes, 32 clients), each beside the
minimal SQL of a redemption (one conditional UPDATE + one INSERT in one transaction) run by pgbench on the
same database in the same run:

- one hot open code with a redemption limit, its campaign-wide limit counted on one row
  (COUPONRY_LIMIT_SLOTS=1) and spread over several (the default): clients hammer it until refusals; the
  rate counts the successful redemptions between the first and the last, and exactly the limit must be
  redeemed; the database's busy sessions are sampled meanwhile (which wait holds the load back);
- the slot SQL itself under pgbench (the same UPDATE on a random one of K rows of the hot code), beside
  the single-row SQL: the headroom spreading gives the database;
- 100,000 distinct personal codes (inserted by COPY), each redeemed once by its own customer.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from couponry.bench import load
from couponry.bench.common import (
    CLIENTS,
    SERVER_PROCESSES,
    Row,
    Section,
    Server,
    add_codes,
    admin_key,
    create_campaign,
    drop_postgres,
    fresh_postgres,
    num,
    pct,
    pg_wait_sampler,
    postgres_reachable,
    running_server,
    sql,
    top_waits,
)

# another name lets two benches share one PostgreSQL without dropping each other's database
PG_DB = os.environ.get("COUPONRY_BENCH_REDEMPTION_DB", "couponry_bench_redemption")
SLOTS = 8  # the server's default (COUPONRY_LIMIT_SLOTS)
TARGET_SLOT_SQL = 2.0
TARGET_HOT = 0.60
TARGET_SPREAD = 0.15
HOT_CODE, WARM_CODE = "BENCHHOT", "BENCHWARM"

RAW_TABLES = [
    "CREATE TABLE raw_coupons (code text PRIMARY KEY, used integer NOT NULL DEFAULT 0, max integer NOT NULL)",
    "CREATE TABLE raw_redemptions (id bigserial PRIMARY KEY, code text NOT NULL, order_id text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE raw_slots (code text, slot integer, used integer NOT NULL DEFAULT 0, "
    "uses_left integer NOT NULL, PRIMARY KEY (code, slot))",
]
RAW_HOT = load.RawScript(
    [
        "UPDATE raw_coupons SET used = used + 1 WHERE code = 'HOT' AND used < max",
        "INSERT INTO raw_redemptions (code, order_id) VALUES ('HOT', :client_id)",
    ]
)

# the steps that shorten how long the hot row stays locked, measured on the database alone
RAW_HOT_ONE_STATEMENT = load.RawScript(
    [
        "WITH u AS (UPDATE raw_coupons SET used = used + 1 WHERE code = 'HOT' AND used < max RETURNING code) "
        "INSERT INTO raw_redemptions (code, order_id) SELECT code, :client_id FROM u"
    ]
)
RAW_HOT_PIPELINED = load.RawScript(RAW_HOT.statements, pipeline=True)


def raw_slots(slots: int) -> load.RawScript:
    """The hot code's limit spread over `slots` rows: the same guarded UPDATE on a random one of them."""
    return load.RawScript(
        [
            "UPDATE raw_slots SET used = used + 1, uses_left = uses_left - 1 "
            "WHERE code = 'HOT' AND slot = :n - 1 AND uses_left >= 1",
            "INSERT INTO raw_redemptions (code, order_id) VALUES ('HOT', :client_id)",
        ],
        n_max=slots,
    )


def raw_spread(codes: int) -> load.RawScript:
    return load.RawScript(
        [
            "UPDATE raw_coupons SET used = used + 1 WHERE code = 'R' || :n AND used < max",
            "INSERT INTO raw_redemptions (code, order_id) VALUES ('R' || :n, :client_id)",
        ],
        n_max=codes,
    )


def cart() -> dict[str, Any]:
    return {
        "currency": "USD",
        "channel": "online",
        "shipping": 500,
        "lines": [
            {
                "id": "1",
                "product_id": "p1",
                "category": "shoes",
                "brand": "acme",
                "store_id": "s1",
                "unit_price": 4500,
                "quantity": 1,
                "on_sale": False,
            },
            {
                "id": "2",
                "product_id": "p2",
                "category": "hats",
                "brand": "globex",
                "store_id": "s2",
                "unit_price": 1500,
                "quantity": 2,
                "on_sale": False,
            },
        ],
    }


def body(codes: list[str], customer: str | None = None) -> str:
    payload: dict[str, Any] = {"order_id": "{ORDER}", "cart": cart(), "codes": codes}
    if customer:
        payload["customer_id"] = customer
    return json.dumps(payload, separators=(",", ":"))


def _copy_personal_codes(url: str, campaign_id: str, count: int) -> None:
    """PC000000.. owned by c000000..: straight into `coupons` (the API's 202 job would take longer)."""
    issued = datetime.now(UTC).isoformat(" ")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY coupons (code, display_code, campaign_id, customer_id, issued_at, "
            "redeemed_count, held_count) FROM STDIN"
        ) as copy:
            rows = [f"PC{n:06d}\tPC{n:06d}\t{campaign_id}\tc{n:06d}\t{issued}\t0\t0\n" for n in range(count)]
            copy.write("".join(rows).encode())
        cur.execute("ANALYZE coupons")


def _prepare_raw(url: str, codes: int) -> None:
    with psycopg.connect(url) as conn:
        for ddl in RAW_TABLES:
            conn.execute(ddl)
        conn.execute("INSERT INTO raw_coupons (code, max) VALUES ('HOT', 2000000000)")
        conn.execute(
            "INSERT INTO raw_slots (code, slot, uses_left) SELECT 'HOT', n, 2000000000 "
            "FROM generate_series(0, %s) n",
            (SLOTS - 1,),
        )
        conn.execute(
            "INSERT INTO raw_coupons (code, max) SELECT 'R' || n, 2000000000 FROM generate_series(1, %s) n",
            (codes,),
        )
        conn.execute("ANALYZE raw_coupons")


def _redeemed(url: str, campaign_id: str) -> tuple[int, float]:
    """Successful redemptions of a campaign and the seconds between the first and the last."""
    row = sql(
        url,
        "SELECT count(*), min(r.created_at), max(r.created_at) FROM redemptions r "
        "JOIN redemption_codes rc ON rc.redemption_id = r.id WHERE rc.campaign_id = :c AND rc.active",
        {"c": campaign_id},
    )[0]
    span = (row[2] - row[1]).total_seconds() if row[0] > 1 else 0.0
    return row[0], span


def _rate(count: int, span: float) -> float:
    return (count - 1) / span if span > 0 else 0.0


@dataclass
class HotRun:
    slots: int
    rate: float
    exact: Row
    notes: list[str]
    waits: Counter[str]

    def row_lock_share(self) -> float:
        """Share of the busy sessions sampled that waited for a row lock (a tuple or a transaction)."""
        total = sum(self.waits.values()) or 1
        return sum(n for k, n in self.waits.items() if _wait(k) in ROW_LOCK_WAITS) / total

    def top_wait(self) -> str:
        by_wait: Counter[str] = Counter()
        for k, n in self.waits.items():
            by_wait[_wait(k)] += n
        total = sum(by_wait.values()) or 1
        wait, n = by_wait.most_common(1)[0] if by_wait else ("none", 0)
        return f"{wait} ({n / total:.0%})"


ROW_LOCK_WAITS = {"Lock:transactionid", "Lock:tuple"}


def _wait(sample: str) -> str:
    """The wait event of a pg_wait_sampler key ("state, wait, `statement`")."""
    return sample.split(", ")[1]


def _hot(server: Server, key: str, url: str, limit: int, slots: int) -> HotRun:
    code = f"{HOT_CODE}{slots}"
    with server.client(key) as client:
        campaign = create_campaign(
            client,
            {
                "name": f"Bench hot, {slots} slots",
                "discount": {"type": "amount", "amount": 100},
                "limits": {"max_redemptions": limit},
            },
        )
        add_codes(client, campaign, [code])
    with pg_wait_sampler(url) as waits:
        result = load.run_http(
            server.base, load.HttpLoad("/v1/redemptions", body([code]), key, 300, stop_after_refusals=200)
        )
    count, span = _redeemed(url, campaign)
    counters = sql(
        url,
        "SELECT sum(s.redeemed_count), sum(s.held_count), count(*), "
        "(SELECT count(*) FROM redemption_codes rc WHERE rc.code = :code AND rc.active) "
        "FROM campaign_limit_slots s WHERE s.campaign_id = :c",
        {"c": campaign, "code": code},
    )[0]
    exact = (
        count == limit == counters[0] == counters[3] == result.ok
        and counters[1] == 0
        and counters[2] == slots
        and result.refused > 0
    )
    row = Row(
        f"hot open code, limit on {slots} row{'s' if slots > 1 else ''}: exactly the limit redeemed",
        f"{num(count)} redemptions of limit {num(limit)}; campaign counter {num(counters[0])} "
        f"(on {counters[2]} slots), coupon's redemptions {num(counters[3])}, {num(result.ok)} answers "
        f"201, {num(result.refused)} answers 409",
        target="exactly the limit",
        met=exact,
    )
    notes = [
        f"Hot code, limit on {slots} row{'s' if slots > 1 else ''}: latency while redeeming and refusing "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
        f"({num(result.requests)} requests in {result.seconds:.1f} s, all refusals included). "
        f"Busy database sessions (state, wait, statement), sampled every 50 ms: {top_waits(waits)}."
    ]
    return HotRun(slots, _rate(count, span), row, notes, waits)


def _distinct(server: Server, key: str, url: str, codes: int, seconds: float) -> tuple[list[str], float, int]:
    with server.client(key) as client:
        campaign = create_campaign(
            client,
            {
                "name": "Bench personal",
                "discount": {"type": "amount", "amount": 100},
                "limits": {"per_coupon": 1},
            },
        )
    _copy_personal_codes(url, campaign, codes)
    with pg_wait_sampler(url) as waits:
        result = load.run_http(
            server.base, load.HttpLoad("/v1/redemptions", body(["PC{N}"], "c{N}"), key, seconds, total=codes)
        )
    count, span = _redeemed(url, campaign)
    if count < result.ok or result.refused:  # answers still in flight when wrk stopped are not counted
        raise RuntimeError(f"distinct codes: {result.ok} answers 201, {result.refused} 409, {count} stored")
    notes = [
        f"Distinct codes: {num(count)} of {num(codes)} personal codes redeemed in {result.seconds:.1f} s; "
        f"latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms. Busy database sessions "
        f"(state, wait, statement), sampled every 50 ms: {top_waits(waits)}."
    ]
    return notes, _rate(count, span), count


def _warm_up(server: Server, key: str, seconds: float, slots: int) -> None:
    code = f"{WARM_CODE}{slots}"
    with server.client(key) as client:
        add_codes(
            client,
            create_campaign(client, {"name": "Bench warm-up", "discount": {"type": "amount", "amount": 100}}),
            [code],
        )
    load.run_http(server.base, load.HttpLoad("/v1/redemptions", body([code]), key, seconds))


def run(quick: bool) -> Section:
    limit, codes, seconds, raw_seconds, warmup = (
        (200, 2_000, 3, 3, 1) if quick else (10_000, 100_000, 30, 15, 3)
    )
    section = Section(
        f"Redemption over HTTP, PostgreSQL ({CLIENTS} clients, {SERVER_PROCESSES} server processes)"
    )
    why_not = postgres_reachable()
    if why_not is not None:
        section.notes.append(f"Skipped: PostgreSQL is needed ({why_not}).")
        return section
    url = fresh_postgres(PG_DB)
    try:
        _prepare_raw(url, codes)
        key = admin_key(url)
        # raw, then ours, for each figure: each pair measured minutes apart at most
        with running_server(url, workers=SERVER_PROCESSES, COUPONRY_LIMIT_SLOTS="1") as server:
            _warm_up(server, key, warmup, 1)
            raw_hot = load.run_raw(url, RAW_HOT, raw_seconds)
            one_row = _hot(server, key, url, limit, 1)
            steps = [load.run_raw(url, r, raw_seconds) for r in (RAW_HOT_ONE_STATEMENT, RAW_HOT_PIPELINED)]
        with running_server(url, workers=SERVER_PROCESSES, COUPONRY_LIMIT_SLOTS=str(SLOTS)) as server:
            _warm_up(server, key, warmup, SLOTS)
            raw_slot_sql = load.run_raw(url, raw_slots(SLOTS), raw_seconds)
            spread = _hot(server, key, url, limit, SLOTS)
            raw_spread_rate = load.run_raw(url, raw_spread(codes), raw_seconds)
            spread_notes, spread_rate, _ = _distinct(server, key, url, codes, seconds)
    finally:
        drop_postgres(PG_DB)
    for hot in (one_row, spread):
        section.rows.append(
            Row(
                f"hot open code, limit on {hot.slots} row{'s' if hot.slots > 1 else ''}: "
                "successful redemptions/s",
                f"{num(hot.rate)} /s",
                f"{num(raw_hot)} tps (one row)",
                pct(hot.rate / raw_hot),
                f">= {pct(TARGET_HOT)}",
                hot.rate / raw_hot >= TARGET_HOT,
            )
        )
        section.rows.append(hot.exact)
    section.rows += [
        Row(
            "one-row SQL under pgbench, each step: the UPDATE and the INSERT in one statement; "
            "the whole transaction, COMMIT included, in one round trip (pipeline)",
            f"{num(steps[0])} tps; {num(steps[1])} tps",
            f"{num(raw_hot)} tps (two statements)",
            f"{steps[0] / raw_hot:.2f} x; {steps[1] / raw_hot:.2f} x",
        ),
        Row(
            f"slot SQL under pgbench: the hot code's guarded UPDATE on a random one of {SLOTS} rows",
            f"{num(raw_slot_sql)} tps",
            f"{num(raw_hot)} tps (one row)",
            f"{raw_slot_sql / raw_hot:.2f} x",
            f">= {TARGET_SLOT_SQL:.1f} x",
            raw_slot_sql / raw_hot >= TARGET_SLOT_SQL,
        ),
        Row(
            f"hot open code on {SLOTS} slots: top wait of the busy sessions (row locks: share of samples)",
            f"{spread.top_wait()}; row locks {spread.row_lock_share():.0%}",
            f"one row: {one_row.top_wait()}; row locks {one_row.row_lock_share():.0%}",
            "-",
            "not a row lock",
            _wait_of(spread.top_wait()) not in ROW_LOCK_WAITS,
        ),
        Row(
            f"hot open code: redemptions/s on {SLOTS} slots vs one row",
            f"{num(spread.rate)} /s",
            f"{num(one_row.rate)} /s",
            f"{spread.rate / one_row.rate:.2f} x" if one_row.rate else "-",
            ">= 1.00 x",
            spread.rate >= one_row.rate,
        ),
        Row(
            f"{num(codes)} distinct personal codes: redemptions/s",
            f"{num(spread_rate)} /s",
            f"{num(raw_spread_rate)} tps",
            pct(spread_rate / raw_spread_rate),
            f">= {pct(TARGET_SPREAD)}",
            spread_rate / raw_spread_rate >= TARGET_SPREAD,
        ),
    ]
    section.notes += (
        one_row.notes
        + spread.notes
        + spread_notes
        + [
            f"Ours: POST /v1/redemptions (2-line cart, one code) by {load.http_tool()} with {CLIENTS} "
            f"connections to `couponry serve --workers {SERVER_PROCESSES}` (log level WARNING) after a "
            f"{warmup} s warm-up, once with COUPONRY_LIMIT_SLOTS=1 (the hot code's limit on one row) and "
            f"once with the default {SLOTS}. "
            "Rate = successful redemptions between the first and the last one, from the stored redemptions' "
            "timestamps; the hot code has a limit of "
            f"{num(limit)} and the clients stop after 200 refusals per load thread; the distinct codes run "
            f"{seconds} s or until every code is used.",
            f"Raw: {load.raw_tool()} ({CLIENTS} clients, prepared statements, {raw_seconds} s, "
            "durable commits) on the same database: `BEGIN; UPDATE raw_coupons SET used = used + 1 "
            "WHERE code = … AND used < max; "
            "INSERT INTO raw_redemptions …; END;` on one row ('HOT') or on a random one of "
            f"{num(codes)} rows; the slot SQL: `UPDATE raw_slots SET used = used + 1, uses_left = "
            f"uses_left - 1 WHERE code = 'HOT' AND slot = <random of {SLOTS}> AND uses_left >= 1` and the "
            "same INSERT.",
            "The load generator, the server processes and PostgreSQL all share the machine's CPU cores.",
        ]
    )
    return section


def _wait_of(top_wait: str) -> str:
    return top_wait.split(" (")[0]
