"""Validation of a 20-line cart with 3 codes over HTTP at 32 clients, SQLite and PostgreSQL, beside the
raw look-up of a coupon by code joined to its campaign measured in the same run on the same database."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

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
    fresh_sqlite,
    num,
    pct,
    postgres_reachable,
    running_server,
)

TARGET_P99_MS = 25.0
TARGET_RATIO = 0.08
CODES = ["BENCHVAL1", "BENCHVAL2", "BENCHVAL3"]
PG_DB = "couponry_bench_validation"
LOOKUP = (
    "SELECT c.code, c.customer_id, c.redeemed_count + c.held_count, k.* "
    "FROM coupons c JOIN campaigns k ON k.id = c.campaign_id WHERE c.code = {param}"
)

CAMPAIGNS: list[dict[str, Any]] = [
    {
        "name": "Bench per item",
        "discount": {"type": "amount_per_item", "amount": 50},
        "scope": {"categories": ["shoes", "bags"]},
        "stacking": "item",
        "limits": {"max_redemptions": 1_000_000},
    },
    {
        "name": "Bench percent",
        "discount": {"type": "percent", "percent": 10, "max_amount": 5000},
        "conditions": {"min_spend": 5000},
        "stacking": "order",
        "limits": {"max_redemptions": 1_000_000, "budget": 1_000_000_000},
    },
    {
        "name": "Bench shipping",
        "discount": {"type": "free_shipping"},
        "stacking": "shipping",
        "limits": {"max_redemptions": 1_000_000},
    },
]


def cart(lines: int) -> dict[str, Any]:
    categories, brands = ["shoes", "shirts", "bags", "hats"], ["acme", "globex", "initech"]
    return {
        "currency": "USD",
        "channel": "online",
        "shipping": 700,
        "lines": [
            {
                "id": str(n),
                "product_id": f"p{n}",
                "category": categories[n % 4],
                "brand": brands[n % 3],
                "store_id": f"s{n % 3}",
                "unit_price": 500 + 137 * n,
                "quantity": 1 + n % 3,
                "on_sale": n % 7 == 0,
            }
            for n in range(lines)
        ],
    }


def _seed(server: Server, key: str) -> str:
    """Three stacking campaigns with one open code each; returns the validation body (checked valid)."""
    body = json.dumps({"cart": cart(20), "codes": CODES}, separators=(",", ":"))
    with server.client(key) as client:
        for code, campaign in zip(CODES, CAMPAIGNS, strict=True):
            add_codes(client, create_campaign(client, campaign), [code])
        answer = client.post("/v1/validations", content=body, headers={"Content-Type": "application/json"})
        answer.raise_for_status()
        result = answer.json()
    if not result["valid"] or not all(c["valid"] for c in result["codes"]):
        raise RuntimeError(f"the benchmark's cart does not validate: {result['codes']}")
    return body


def _measure(url: str, seconds: float, warmup: float) -> load.HttpResult:
    key = admin_key(url)
    with running_server(url, workers=SERVER_PROCESSES) as server:
        body = _seed(server, key)
        spec = load.HttpLoad("/v1/validations", body, key, warmup)
        load.run_http(server.base, spec)
        spec.duration = seconds
        return load.run_http(server.base, spec)


def _rows(backend: str, ours: load.HttpResult, raw: float, raw_how: str, ratio_target: bool) -> list[Row]:
    ratio = ours.rate / raw
    return [
        Row(
            f"{backend}: validations/s, 20-line cart, 3 codes, {CLIENTS} clients",
            f"{num(ours.rate)} req/s",
            f"{num(raw)} look-ups/s ({raw_how})",
            pct(ratio),
            f">= {pct(TARGET_RATIO)}" if ratio_target else "-",
            ratio >= TARGET_RATIO if ratio_target else None,
        ),
        Row(f"{backend}: validation latency p50", f"{ours.p50_ms:.1f} ms"),
        Row(
            f"{backend}: validation latency p99",
            f"{ours.p99_ms:.1f} ms",
            target=f"<= {TARGET_P99_MS:.0f} ms",
            met=ours.p99_ms <= TARGET_P99_MS,
        ),
    ]


def run(quick: bool) -> Section:
    seconds, warmup, raw_seconds = (3, 1, 3) if quick else (20, 3, 15)
    section = Section(f"Validation over HTTP ({CLIENTS} clients, {SERVER_PROCESSES} server processes)")
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_sqlite(Path(workdir))
        ours = _measure(url, seconds, warmup)
        counts["sqlite"] = ours.requests
        raw = load.run_sqlite_lookups(
            url.removeprefix("sqlite:///"), LOOKUP.format(param="?"), CODES, raw_seconds
        )
        section.rows += _rows("SQLite", ours, raw, "sqlite3, 2 processes", ratio_target=False)
    why_not = postgres_reachable()
    if why_not is None:
        url = fresh_postgres(PG_DB)
        try:
            ours = _measure(url, seconds, warmup)
            counts["postgres"] = ours.requests
            script = load.RawScript([LOOKUP.format(param="'BENCHVAL' || :n")], n_max=3, transaction=False)
            raw = load.run_raw(url, script, raw_seconds)
            section.rows += _rows("PostgreSQL", ours, raw, f"{load.raw_tool()}, {CLIENTS} clients", True)
        finally:
            drop_postgres(PG_DB)
    else:
        section.notes.append(f"PostgreSQL skipped: {why_not}")
    section.notes += [
        f"Ours: POST /v1/validations of one 20-line cart with 3 stacking codes (per-item, percent, free "
        f"shipping), all valid; {seconds} s after a {warmup} s warm-up, `couponry serve --workers "
        f"{SERVER_PROCESSES}`, log level WARNING; load by {load.http_tool()} with {CLIENTS} connections "
        f"({', '.join(f'{k}: {num(v)} requests' for k, v in counts.items())}).",
        "Raw: the look-up of one coupon by code joined to its campaign, on the same database, "
        f"{raw_seconds} s; PostgreSQL by {load.raw_tool()} (prepared statements, {CLIENTS} clients), "
        "SQLite by the sqlite3 module in one process per core (its highest rate here).",
        "The target ratio (>= 8 %) is judged on PostgreSQL, where the raw figure is a network round trip; "
        "SQLite's raw look-up is an in-process call, so its ratio is shown for information.",
        "The load generator, the server processes and PostgreSQL all share the machine's CPU cores.",
    ]
    return section
