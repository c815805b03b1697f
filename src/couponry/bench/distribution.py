"""Reaching customers: a push to 100,000 customers (SQLite and PostgreSQL) beside a raw INSERT ... SELECT
of the same coupon rows, and a segment count over 1,000,000 customers (PostgreSQL) beside the same
condition written by hand.

Ours runs in process, through the services (the publication is created, then its job is run to the
end as a worker would run it); the raw figures are measured in the same run on the same database.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import customers
from couponry.bench.common import (
    Row,
    Section,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    num,
    postgres_reachable,
)

PUSH_TARGET_RATIO = 3.0
PUSH_TARGET_SECONDS = 60.0
COUNT_TARGET_RATIO = 2.0
SEGMENT_RULES = [
    {"field": "order_count", "op": "gte", "value": 2},
    {"field": "days_since_last_order", "op": "gte", "value": 30},
    {"field": "tags", "op": "contains", "value": "vip"},
]
# The raw baseline writes the same rows as a push: random codes (drawn in SQL, once per customer, into a
# temporary table), then claims, coupons, events and mails, each one INSERT ... SELECT.
_CODES_SQLITE = (
    "CREATE TEMP TABLE raw_codes AS SELECT id, email, marketing_consent, upper(hex(randomblob(6))) AS code "
    "FROM customers WHERE total_spent >= 0"
)
_CODES_POSTGRES = (
    "CREATE TEMP TABLE raw_codes ON COMMIT DROP AS SELECT id, email, marketing_consent, "
    "upper(substr(md5(random()::text), 1, 12)) AS code FROM customers WHERE total_spent >= 0"
)
_CLAIMS = (
    "INSERT INTO published_coupons (campaign_id, customer_id, code, publication_id, issued_at) "
    "SELECT :campaign, id, code, 'raw', :now FROM raw_codes"
)
_COUPONS = (
    "INSERT INTO coupons (code, display_code, campaign_id, customer_id, issued_at, redeemed_count, "
    "held_count) SELECT code, code, :campaign, id, :now, 0, 0 FROM raw_codes"
)
_OUTBOX = (
    "INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, available_at, "
    "created_at) "
)
_MAILABLE = "FROM raw_codes WHERE marketing_consent AND email IS NOT NULL"
RAW_SQLITE = [
    _CODES_SQLITE,
    _CLAIMS,
    _COUPONS,
    _OUTBOX + "SELECT lower(hex(randomblob(16))), 'event', 'coupon.issued', NULL, json_object('code', code, "
    "'campaign_id', :campaign, 'customer_id', id), NULL, 'pending', 0, :now, :now FROM raw_codes",
    _OUTBOX + "SELECT lower(hex(randomblob(16))), 'mail', 'coupon_issued', id, json_object('code', code, "
    "'campaign_id', :campaign, 'campaign_name', 'raw', 'coupon_url', 'http://127.0.0.1:8000/c/' || code, "
    f"'valid_until', NULL), 'issued:' || code, 'pending', 0, :now, :now {_MAILABLE}",
    "DROP TABLE raw_codes",
]
RAW_POSTGRES = [
    _CODES_POSTGRES,
    _CLAIMS,
    _COUPONS,
    _OUTBOX + "SELECT replace(CAST(gen_random_uuid() AS text), '-', ''), 'event', 'coupon.issued', NULL, "
    "json_build_object('code', code, 'campaign_id', CAST(:campaign AS text), 'customer_id', id), "
    "NULL, 'pending', 0, :now, :now FROM raw_codes",
    _OUTBOX + "SELECT replace(CAST(gen_random_uuid() AS text), '-', ''), 'mail', 'coupon_issued', id, "
    "json_build_object('code', code, 'campaign_id', CAST(:campaign AS text), 'campaign_name', 'raw', "
    "'coupon_url', 'http://127.0.0.1:8000/c/' || code, 'valid_until', NULL), 'issued:' || code, "
    f"'pending', 0, :now, :now {_MAILABLE}",
]
HAND_WRITTEN_COUNT = """
SELECT count(*) FROM customers
WHERE order_count >= 2
  AND coalesce(last_order_at, signed_up_at) <= :before
  AND CAST(tags AS jsonb) @> CAST('["vip"]' AS jsonb)
"""


def run(quick: bool) -> Section:
    push_n = 5_000 if quick else 100_000
    count_n = 50_000 if quick else 1_000_000
    section = Section(f"Reaching customers: push to {num(push_n)}, segment count over {num(count_n)}")
    why_not = postgres_reachable()
    with tempfile.TemporaryDirectory() as tmp:
        _push(section, "sqlite", fresh_sqlite(Path(tmp)), push_n)
    if why_not is None:
        name = "couponry_bench_distribution"
        try:
            _push(section, "postgres", fresh_postgres(name), push_n)
            _segment_count(section, fresh_postgres(name), count_n)
        finally:
            drop_postgres(name)
    else:
        section.notes.append(f"PostgreSQL skipped: {why_not}")
    section.notes += [
        "Push: ours = `create_publication` + its job run to the end in process: per customer a claim in "
        "`published_coupons`, a coupon (code from the campaign's code_config, generated in Python), a "
        "`coupon.issued` outbox event and, with notify, a mail for each consenting customer (half of "
        "them; its link signed with HMAC); raw = the same rows in one transaction: random codes drawn in SQL "
        "into a temporary table, then four `INSERT ... SELECT` (claims, coupons, events, mails; links "
        "unsigned); JIT off on PostgreSQL for both (it costs ~1 s per statement here, more than the work).",
        "Segment count: ours = `segment_customers(limit=0)` (the segment read from the database, its "
        "rules turned into SQL, count + an empty page); hand-written = the same condition as one "
        f"`SELECT count(*)`; median of 5 after a warm-up. Rules: {SEGMENT_RULES}.",
        "The machine is shared with 7 other helpers' test suites and benchmarks: figures vary run to run.",
    ]
    if quick:
        section.notes.append("Quick mode: small sizes, fixed costs weigh more.")
    return section


def _customers(n: int, now: datetime, offset: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i in range(offset, offset + n):
        rows.append(
            {
                "id": f"c{i:07d}",
                "email": f"c{i}@example.com",
                "tags": ["vip"] if i % 5 == 0 else ["all"],
                "attributes": {"n": i},
                "marketing_consent": i % 2 == 0,
                "order_count": i % 7,
                "total_spent": (i % 7) * 2500,
                "signed_up_at": now - timedelta(days=i % 400),
                "last_order_at": None if i % 7 == 0 else now - timedelta(days=i % 90),
                "referral_code": f"r-bench{i:09d}",
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _fill(db: Database, n: int, now: datetime) -> None:
    for start in range(0, n, 20_000):
        with db.write() as conn:
            conn.execute(insert(customers), _customers(min(20_000, n - start), now, start))
    if db.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE customers"))


def _push(section: Section, backend: str, url: str, n: int) -> None:
    from couponry.services.access.actors import SYSTEM
    from couponry.services.campaigns.campaigns import create_campaign
    from couponry.services.demo import _campaign
    from couponry.services.distribution.publications import create_publication
    from couponry.services.distribution.segments import create_segment
    from couponry.services.jobs import jobs

    db = Database(url)
    try:
        now = datetime.now(UTC)
        _fill(db, n, now)
        spec = {"name": "push", "currency": "USD", "discount": {"type": "amount", "amount": 500}}
        campaign = create_campaign(db, SYSTEM, _campaign(spec), now)
        segment = create_segment(
            db,
            SYSTEM,
            {"name": "all", "match": "all", "rules": [{"field": "total_spent", "op": "gte", "value": 0}]},
            now,
        )
        # raw first: the same rows (claims, coupons, events, mails) as INSERT ... SELECT, codes made in SQL
        raw_campaign = create_campaign(db, SYSTEM, _campaign({**spec, "name": "raw"}), now)
        statements = RAW_POSTGRES if db.is_postgres else RAW_SQLITE
        params = {"campaign": raw_campaign["id"], "now": now.replace(tzinfo=None) if db.is_sqlite else now}
        t0, c0 = time.perf_counter(), time.process_time()
        with db.write() as conn:
            if db.is_postgres:  # as ours does: JIT compiling these costs more than running them
                conn.exec_driver_sql("SET LOCAL jit = off")
            for statement in statements:
                conn.execute(text(statement), params)
        raw, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
        gc.collect()
        gc.freeze()  # as `couponry serve` does at start-up, where publications run
        t0, c0 = time.perf_counter(), time.process_time()
        publication = create_publication(
            db, SYSTEM, campaign["id"], {"segment_id": segment["id"], "notify": True}, datetime.now(UTC)
        )
        job = jobs.claim_next(db, datetime.now(UTC))
        jobs.run(db, job)
        ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        gc.unfreeze()
        from couponry.services.distribution.publications import get_publication

        done = get_publication(db, SYSTEM, publication["id"])
        if done["issued"] != n or done["status"] != "succeeded":
            raise RuntimeError(f"the push did not issue {n} coupons: {done}")
    finally:
        db.dispose()
    ratio = ours / raw
    section.rows.append(
        Row(
            f"{backend}: seconds to push a campaign to {num(n)} customers (notify) vs the same rows "
            "by raw INSERT ... SELECT",
            f"{ours:.2f} s",
            f"{raw:.2f} s",
            f"{ratio:.2f} x",
            f"<= {PUSH_TARGET_RATIO} x and < {PUSH_TARGET_SECONDS:.0f} s",
            ratio <= PUSH_TARGET_RATIO and ours < PUSH_TARGET_SECONDS,
        )
    )
    if (
        backend == "sqlite"
    ):  # SQLite works inside this process: its CPU time does not depend on the neighbours
        section.rows.append(
            Row(
                "sqlite: the same, CPU seconds of this process (SQLite runs in it)",
                f"{ours_cpu:.2f} s",
                f"{raw_cpu:.2f} s",
                f"{ours_cpu / raw_cpu:.2f} x",
            )
        )


def _segment_count(section: Section, url: str, n: int) -> None:
    from couponry.services.access.actors import SYSTEM
    from couponry.services.distribution.segments import create_segment, segment_customers

    db = Database(url)
    try:
        now = datetime.now(UTC)
        _fill(db, n, now)
        segment = create_segment(
            db, SYSTEM, {"name": "loyal, silent VIPs", "match": "all", "rules": SEGMENT_RULES}, now
        )

        def ours() -> int:
            return segment_customers(db, SYSTEM, segment["id"], limit=0, now=datetime.now(UTC))["count"]

        def hand() -> int:
            with db.read() as conn:
                before = datetime.now(UTC) - timedelta(days=30)
                return conn.execute(text(HAND_WRITTEN_COUNT), {"before": before}).scalar_one()

        ours_s, ours_count = _median(ours)
        hand_s, hand_count = _median(hand)
        if ours_count != hand_count:
            raise RuntimeError(f"the counts differ: ours {ours_count}, hand-written {hand_count}")
    finally:
        db.dispose()
    ratio = ours_s / hand_s
    section.rows.append(
        Row(
            f"postgres: ms to count a segment over {num(n)} customers ({num(ours_count)} members) "
            "vs hand-written SQL",
            f"{ours_s * 1000:.0f} ms",
            f"{hand_s * 1000:.0f} ms",
            f"{ratio:.2f} x",
            f"<= {COUNT_TARGET_RATIO} x",
            ratio <= COUNT_TARGET_RATIO,
        )
    )


def _median(fn: Any, runs: int = 5) -> tuple[float, Any]:
    result = fn()  # warm-up: caches, plans
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result
