"""Storing generated codes: ours (store_generated_codes) against a raw baseline measured in the same run.

    python -m couponry.bench.codes_core [--backend sqlite|postgres|both] [--ten-million]

Per backend, on a freshly migrated database with one campaign:
- raw: SQLite executemany of pre-generated 12-character codes into a fresh table with a unique index,
  in one transaction; PostgreSQL COPY into a fresh table with a unique index. Same columns as coupons.
  A second raw run ("same") stores into a table of coupons' own shape (PK, campaign_id index, FK).
  Raw runs insert the codes as generated; ours sorts each batch first (see bulk_codes).
- ours: store_generated_codes (generation included) into `coupons`, in batches of 50,000 committed
  one by one. It runs in a child process so its peak RSS is its own.
`--ten-million` adds a 10,000,000-code run of ours (no raw baseline) to show the growth is linear.
PostgreSQL: database `couponry_bench_codes` beside COUPONRY_BENCH_POSTGRES_URL (default: the test one).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from couponry.adapters.db.bulk_codes import store_generated_codes
from couponry.adapters.db.engine import Database, normalize_url
from couponry.adapters.db.migrate import upgrade
from couponry.adapters.db.tables import campaigns
from couponry.domain.codes import CodeConfig, generate

PG_BASE = os.environ.get("COUPONRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = "couponry_bench_codes"
CAMPAIGN = "bench"
RAW_LIMIT = 2_000_000  # the raw baseline holds all its codes in memory; above this only ours runs
COLUMNS = "code, display_code, campaign_id, customer_id, issued_at, redeemed_count, held_count"


def _postgres_admin(sql: str) -> None:
    admin = create_engine(normalize_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def _fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "bench.db"
        for leftover in workdir.glob("bench.db*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
    else:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        _postgres_admin(f'CREATE DATABASE "{PG_BENCH_DB}"')
        url = PG_BASE.rsplit("/", 1)[0] + "/" + PG_BENCH_DB
    db = Database(url)
    upgrade(db.engine)
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            insert(campaigns).values(
                id=CAMPAIGN,
                name="Bench",
                issuer_type="platform",
                currency="USD",
                status="active",
                stacking="order",
                definition={},
                created_at=now,
                updated_at=now,
            )
        )
    db.dispose()
    return url


PLAIN = "CREATE UNIQUE INDEX raw_plain_code ON raw_plain (code)"
RAW_TABLES = {
    # a table with coupons' columns whose only index is the unique one on code
    ("sqlite", "plain"): ["CREATE TABLE raw_plain AS SELECT * FROM coupons WHERE 0", PLAIN],
    ("postgresql", "plain"): ["CREATE TABLE raw_plain (LIKE coupons INCLUDING DEFAULTS)", PLAIN],
    # coupons' own shape: primary key, campaign_id index, partial customer_id index, foreign key
    ("sqlite", "same"): [
        "{coupons_ddl}",
        "CREATE INDEX raw_same_campaign ON raw_same (campaign_id)",
        "CREATE INDEX raw_same_customer ON raw_same (customer_id) WHERE customer_id IS NOT NULL",
    ],
    ("postgresql", "same"): [
        "CREATE TABLE raw_same (LIKE coupons INCLUDING ALL)",
        "ALTER TABLE raw_same ADD FOREIGN KEY (campaign_id) REFERENCES campaigns (id)",
    ],
}


def _raw_baseline(url: str, codes: list[str], shape: str) -> float:
    """Seconds to store pre-generated codes the plainest fast way: one executemany or one COPY."""
    db = Database(url)
    raw = db.engine.raw_connection()
    con, table = raw.driver_connection, f"raw_{shape}"
    issued = datetime.now(UTC)
    try:
        cur = raw.cursor()
        if db.is_sqlite:
            cur.execute("SELECT sql FROM sqlite_master WHERE name = 'coupons'")
            coupons_ddl = cur.fetchone()[0].replace("coupons", table, 1)
        for ddl in RAW_TABLES[db.engine.dialect.name, shape]:
            cur.execute(ddl.format(coupons_ddl=coupons_ddl) if db.is_sqlite else ddl)
        cur.close()
        raw.commit()
        if db.is_sqlite:
            stamp = issued.replace(tzinfo=None).isoformat(" ")
            rows = [(c, c, CAMPAIGN, None, stamp) for c in codes]
            started = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.executemany(f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, 0)", rows)
            con.execute("COMMIT")
        else:
            tail = f"\t{CAMPAIGN}\t\\N\t{issued.isoformat(' ')}\t0\t0\n"
            chunks = [
                "".join([f"{c}\t{c}{tail}" for c in codes[i : i + 50_000]]).encode()
                for i in range(0, len(codes), 50_000)
            ]
            started = time.perf_counter()
            with con.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
                for chunk in chunks:
                    copy.write(chunk)
            con.commit()
        return time.perf_counter() - started
    finally:
        raw.close()
        db.dispose()


def _ours_in_child(url: str, count: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(count)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM starts afresh at exec; ru_maxrss would carry the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(url: str, count: int) -> None:
    db = Database(url)
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    stored = store_generated_codes(db, CAMPAIGN, CodeConfig(), count, issued_at=datetime.now(UTC))
    seconds = time.perf_counter() - started
    rss_peak = _peak_rss_mb()
    with db.read() as conn:
        in_db = conn.execute(text("SELECT count(*) FROM coupons")).scalar_one()
    db.dispose()
    assert stored == in_db == count, (stored, in_db, count)
    figures = {"seconds": seconds, "peak_rss_mb": rss_peak, "before_rss_mb": rss_before}
    print(json.dumps(figures))


def run(counts: int | Sequence[int] = 1_000_000, backends: Sequence[str] = ("sqlite", "postgres")) -> dict:
    """{backend: {count: figures}}: seconds of ours and of both raw baselines, ratios, ours' peak RSS."""
    counts = [counts] if isinstance(counts, int) else list(counts)
    started = time.perf_counter()
    generate(CodeConfig(length=12), 1_000_000)
    results: dict = {"generate_1m_seconds": time.perf_counter() - started}
    with tempfile.TemporaryDirectory() as workdir:
        for backend in backends:
            results[backend] = {}
            for count in counts:
                url = _fresh_database(backend, Path(workdir))
                figures: dict = {"raw_seconds": None, "raw_same_shape_seconds": None}
                if count <= RAW_LIMIT:
                    codes = generate(CodeConfig(length=12), count)
                    figures["raw_seconds"] = _raw_baseline(url, codes, "plain")
                    figures["raw_same_shape_seconds"] = _raw_baseline(url, codes, "same")
                    del codes
                ours = _ours_in_child(url, count)
                figures |= {
                    "ours_seconds": ours["seconds"],
                    "ours_seconds_per_million": ours["seconds"] * 1_000_000 / count,
                    "peak_rss_mb": ours["peak_rss_mb"],
                    "rss_before_mb": ours["before_rss_mb"],
                }
                for key in ("raw", "raw_same_shape"):
                    raw = figures[f"{key}_seconds"]
                    figures[f"ratio_to_{key}"] = ours["seconds"] / raw if raw else None
                results[backend][count] = figures
            if backend == "postgres":
                _postgres_admin(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
    return results


def print_table(results: dict) -> None:
    print(f"generating 1,000,000 codes alone: {results['generate_1m_seconds']:.2f} s")
    print("raw = plain table with one unique index; same = coupons' shape (PK, campaign index, FK)")
    print("backend         codes   raw s  same s  ours s ours/raw ours/same s/million peak RSS (start)")
    for backend, rows in results.items():
        if not isinstance(rows, dict):
            continue
        for count, r in rows.items():
            cells = [r["raw_seconds"], r["raw_same_shape_seconds"], r["ours_seconds"]]
            cells += [r["ratio_to_raw"], r["ratio_to_raw_same_shape"]]
            text_cells = " ".join(f"{c:>7.2f}" if c is not None else f"{'-':>7}" for c in cells)
            print(
                f"{backend:<9} {count:>11,} {text_cells}   {r['ours_seconds_per_million']:>7.2f} "
                f"{r['peak_rss_mb']:>4.0f} MB ({r['rss_before_mb']:.0f} MB)"
            )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--ten-million", action="store_true", help="also store 10,000,000 codes (ours)")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    counts = (1_000_000, 10_000_000) if args.ten_million else (1_000_000,)
    print_table(run(counts, backends))


if __name__ == "__main__":
    main()
