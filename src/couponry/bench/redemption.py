"""Redemption throughput over HTTP on PostgreSQL (4 server processes, 32 clients), each beside the
minimal SQL of a redemption (one conditional UPDATE + one INSERT in one transaction) run by pgbench on the
same database in the same run:

- one hot open code with a redemption limit: clients hammer it until refusals; the rate counts the
  successful redemptions between the first and the last, and exactly the limit must be redeemed;
- 100,000 distinct personal codes (inserted by COPY), each redeemed once by its own customer.
"""

from __future__ import annotations

import json
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

PG_DB = "couponry_bench_redemption"
TARGET_HOT = 0.60
TARGET_SPREAD = 0.15
HOT_CODE, WARM_CODE = "BENCHHOT", "BENCHWARM"

RAW_TABLES = [
    "CREATE TABLE raw_coupons (code text PRIMARY KEY, used integer NOT NULL DEFAULT 0, max integer NOT NULL)",
    "CREATE TABLE raw_redemptions (id bigserial PRIMARY KEY, code text NOT NULL, order_id text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
]
RAW_HOT = load.RawScript(
    [
        "UPDATE raw_coupons SET used = used + 1 WHERE code = 'HOT' AND used < max",
        "INSERT INTO raw_redemptions (code, order_id) VALUES ('HOT', :client_id)",
    ]
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


def _hot(server: Server, key: str, url: str, limit: int) -> tuple[list[Row], list[str], float]:
    with server.client(key) as client:
        campaign = create_campaign(
            client,
            {
                "name": "Bench hot",
                "discount": {"type": "amount", "amount": 100},
                "limits": {"max_redemptions": limit},
            },
        )
        add_codes(client, campaign, [HOT_CODE])
    with pg_wait_sampler(url) as waits:
        result = load.run_http(
            server.base, load.HttpLoad("/v1/redemptions", body([HOT_CODE]), key, 300, stop_after_refusals=200)
        )
    count, span = _redeemed(url, campaign)
    counters = sql(
        url,
        "SELECT k.redeemed_count, k.held_count, c.redeemed_count FROM campaigns k "
        "JOIN coupons c ON c.campaign_id = k.id WHERE k.id = :c",
        {"c": campaign},
    )[0]
    exact = (
        count == limit == counters[0] == counters[2] == result.ok and counters[1] == 0 and result.refused > 0
    )
    rows = [
        Row(
            "hot open code: exactly the limit redeemed",
            f"{num(count)} redemptions of limit {num(limit)}; campaign counter {num(counters[0])}, "
            f"coupon counter {num(counters[2])}, {num(result.ok)} answers 201, "
            f"{num(result.refused)} answers 409",
            target="exactly the limit",
            met=exact,
        ),
    ]
    notes = [
        f"Hot code latency while redeeming and refusing: p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms "
        f"({num(result.requests)} requests in {result.seconds:.1f} s, all refusals included). "
        f"Busy database sessions (state, wait, statement), sampled every 50 ms: {top_waits(waits)}."
    ]
    return rows, notes, _rate(count, span)


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


def run(quick: bool) -> Section:
    limit, codes, seconds, raw_seconds, warmup = (
        (200, 2_000, 3, 3, 1) if quick else (3_000, 100_000, 30, 15, 3)
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
        with running_server(url, workers=SERVER_PROCESSES) as server:
            with server.client(key) as client:
                add_codes(
                    client,
                    create_campaign(
                        client, {"name": "Bench warm-up", "discount": {"type": "amount", "amount": 100}}
                    ),
                    [WARM_CODE],
                )
            load.run_http(server.base, load.HttpLoad("/v1/redemptions", body([WARM_CODE]), key, warmup))
            # raw, then ours, for each figure: each pair measured minutes apart at most
            raw_hot = load.run_raw(url, RAW_HOT, raw_seconds)
            hot_rows, hot_notes, hot_rate = _hot(server, key, url, limit)
            raw_spread_rate = load.run_raw(url, raw_spread(codes), raw_seconds)
            spread_notes, spread_rate, _ = _distinct(server, key, url, codes, seconds)
    finally:
        drop_postgres(PG_DB)
    section.rows.append(
        Row(
            "hot open code: successful redemptions/s",
            f"{num(hot_rate)} /s",
            f"{num(raw_hot)} tps",
            pct(hot_rate / raw_hot),
            f">= {pct(TARGET_HOT)}",
            hot_rate / raw_hot >= TARGET_HOT,
        )
    )
    section.rows += hot_rows
    section.rows.append(
        Row(
            f"{num(codes)} distinct personal codes: redemptions/s",
            f"{num(spread_rate)} /s",
            f"{num(raw_spread_rate)} tps",
            pct(spread_rate / raw_spread_rate),
            f">= {pct(TARGET_SPREAD)}",
            spread_rate / raw_spread_rate >= TARGET_SPREAD,
        )
    )
    section.notes += (
        hot_notes
        + spread_notes
        + [
            f"Ours: POST /v1/redemptions (2-line cart, one code) by {load.http_tool()} with {CLIENTS} "
            f"connections to `couponry serve --workers {SERVER_PROCESSES}` (log level WARNING) after a "
            f"{warmup} s warm-up. "
            "Rate = successful redemptions between the first and the last one, from the stored redemptions' "
            "timestamps; the hot code has a limit of "
            f"{num(limit)} and the clients stop after 200 refusals per load thread; the distinct codes run "
            f"{seconds} s or until every code is used.",
            f"Raw: {load.raw_tool()} ({CLIENTS} clients, prepared statements, {raw_seconds} s, "
            "durable commits) on the same database: `BEGIN; UPDATE raw_coupons SET used = used + 1 "
            "WHERE code = … AND used < max; "
            "INSERT INTO raw_redemptions …; END;` on one row ('HOT') or on a random one of "
            f"{num(codes)} rows.",
            "The load generator, the server processes and PostgreSQL all share the machine's CPU cores.",
        ]
    )
    return section
