"""Claims on one hot campaign over HTTP on PostgreSQL (4 server processes, 32 clients), beside the minimal
SQL of a claim (one conditional UPDATE of the stock row + one INSERT in one transaction) run by pgbench on
the same database in the same run.

Every claim is by another customer (per_customer 1), so each one takes a unit of the campaign's stock,
the row every claim queues on; clients claim until the stock is gone and refusals come back, and exactly
the stock must have been claimed.
"""

from __future__ import annotations

import json

from couponry.bench import load
from couponry.bench.common import (
    CLIENTS,
    SERVER_PROCESSES,
    Row,
    Section,
    Server,
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

PG_DB = "couponry_bench_claims"
TARGET = 0.40

RAW_TABLES = [
    "CREATE TABLE raw_offers (id text PRIMARY KEY, claimed integer NOT NULL DEFAULT 0, "
    "stock integer NOT NULL)",
    "CREATE TABLE raw_claims (id bigserial PRIMARY KEY, campaign_id text NOT NULL, "
    "customer_id text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now())",
]
RAW_CLAIM = load.RawScript(
    [
        "UPDATE raw_offers SET claimed = claimed + 1 WHERE id = 'HOT' AND claimed < stock",
        "INSERT INTO raw_claims (campaign_id, customer_id) VALUES ('HOT', :client_id)",
    ]
)
BODY = json.dumps({"customer_id": "c{N}"})


def _prepare_raw(url: str) -> None:
    sql(url, RAW_TABLES[0])
    sql(url, RAW_TABLES[1])
    sql(url, "INSERT INTO raw_offers (id, stock) VALUES ('HOT', 2000000000)")


def _claimed(url: str, campaign_id: str) -> tuple[int, float, int]:
    """Claims of the campaign, the seconds between the first and the last, and the stock counter."""
    row = sql(
        url,
        "SELECT count(*), min(claimed_at), max(claimed_at), "
        "(SELECT claimed FROM claim_offers WHERE campaign_id = :c) FROM claims WHERE campaign_id = :c",
        {"c": campaign_id},
    )[0]
    span = (row[2] - row[1]).total_seconds() if row[0] > 1 else 0.0
    return row[0], span, row[3]


def _campaign(server: Server, key: str, name: str, stock: int | None) -> str:
    with server.client(key) as client:
        return create_campaign(
            client,
            {"name": name, "discount": {"type": "amount", "amount": 500}, "claim": {"stock": stock}},
        )


def _hot(server: Server, key: str, url: str, stock: int) -> tuple[list[Row], list[str], float]:
    campaign = _campaign(server, key, "Bench flash sale", stock)
    with pg_wait_sampler(url) as waits:
        result = load.run_http(
            server.base,
            load.HttpLoad(
                f"/v1/campaigns/{campaign}/claims", BODY, key, 300, total=stock * 2, stop_after_refusals=200
            ),
        )
    count, span, counter = _claimed(url, campaign)
    coupons = sql(url, "SELECT count(*) FROM coupons WHERE campaign_id = :c", {"c": campaign})[0][0]
    exact = count == stock == counter == coupons == result.ok and result.refused > 0
    rows = [
        Row(
            "hot campaign: exactly the stock claimed",
            f"{num(count)} claims of a stock of {num(stock)}; stock counter {num(counter)}, "
            f"{num(coupons)} coupons, {num(result.ok)} answers 201, {num(result.refused)} answers 409",
            target="exactly the stock",
            met=exact,
        )
    ]
    notes = [
        f"Claim latency while claiming and refusing: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
        f"({num(result.requests)} requests in {result.seconds:.1f} s, all refusals included). "
        f"Busy database sessions (state, wait, statement), sampled every 50 ms: {top_waits(waits)}."
    ]
    rate = (count - 1) / span if span > 0 else 0.0
    return rows, notes, rate


def run(quick: bool) -> Section:
    stock, raw_seconds, warmup = (200, 3, 1) if quick else (3_000, 15, 3)
    section = Section(
        f"Claims over HTTP, PostgreSQL ({CLIENTS} clients, {SERVER_PROCESSES} server processes)"
    )
    why_not = postgres_reachable()
    if why_not is not None:
        section.notes.append(f"Skipped: PostgreSQL is needed ({why_not}).")
        return section
    url = fresh_postgres(PG_DB)
    try:
        _prepare_raw(url)
        key = admin_key(url)
        # raw first, before the server holds its pools' connections (the PostgreSQL is shared and its
        # max_connections is 100); then ours, a minute later at most
        raw = load.run_raw(url, RAW_CLAIM, raw_seconds)
        with running_server(url, workers=SERVER_PROCESSES) as server:
            warm = _campaign(server, key, "Bench warm-up", None)
            load.run_http(server.base, load.HttpLoad(f"/v1/campaigns/{warm}/claims", BODY, key, warmup))
            rows, notes, rate = _hot(server, key, url, stock)
    finally:
        drop_postgres(PG_DB)
    section.rows.append(
        Row(
            "hot campaign with stock: successful claims/s",
            f"{num(rate)} /s",
            f"{num(raw)} tps",
            pct(rate / raw),
            f">= {pct(TARGET)}",
            rate / raw >= TARGET,
        )
    )
    section.rows += rows
    section.notes += notes + [
        f"Ours: POST /v1/campaigns/{{id}}/claims, each by another customer, by {load.http_tool()} with "
        f"{CLIENTS} connections to `couponry serve --workers {SERVER_PROCESSES}` after a {warmup} s warm-up "
        "on another campaign. A claim is one transaction: the campaign and its offer read; the customer's "
        "claim number (guarded by per_customer), the personal coupon and the `coupon.claimed` outbox event "
        "inserted by one statement; then the stock's increment sent with the COMMIT in one message (the "
        "CHECK claimed <= stock refuses a unit that is not there). Rate = successful claims between the "
        f"first and the last, from the stored claims' timestamps; the stock is {num(stock)} and the "
        "clients stop after 200 refusals per load thread.",
        f"Raw: {load.raw_tool()} ({CLIENTS} clients, prepared statements, {raw_seconds} s, durable commits) "
        "on the same database: `BEGIN; UPDATE raw_offers SET claimed = claimed + 1 WHERE id = 'HOT' AND "
        "claimed < stock; INSERT INTO raw_claims …; END;`.",
        "The load generator, the server processes and PostgreSQL all share the machine's CPU cores.",
    ]
    return section
