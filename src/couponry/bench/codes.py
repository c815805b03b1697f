"""Generating and storing codes: bench/bench_codes.py's figures (ours in a child process for its own
peak memory; raw COPY / executemany measured in the same run on the same database)."""

from __future__ import annotations

from couponry.bench.common import Row, Section, num, postgres_reachable

TARGET_RATIO = 1.5
TARGET_PEAK_MB = 250


def run(quick: bool) -> Section:
    count = 20_000 if quick else 1_000_000
    section = Section(f"Generating and storing {num(count)} codes")
    from couponry.bench import codes_core as script

    backends = ["sqlite"]
    why_not = postgres_reachable()
    if why_not is None:
        backends.append("postgres")
    else:
        section.notes.append(f"PostgreSQL skipped: {why_not}")
    results = script.run(count, backends)
    raws = {"sqlite": "raw executemany", "postgres": "raw COPY"}
    for backend in backends:
        r = results[backend][count]
        ratio = r["ratio_to_raw"]
        section.rows.append(
            Row(
                f"{backend}: seconds to generate and store {num(count)} codes ({raws[backend]})",
                f"{r['ours_seconds']:.2f} s",
                f"{r['raw_seconds']:.2f} s",
                f"{ratio:.2f} x",
                f"<= {TARGET_RATIO} x",
                ratio <= TARGET_RATIO,
            )
        )
        section.rows.append(
            Row(
                f"{backend}: same, raw into a copy of coupons with its indexes (bench_codes.py `same`)",
                f"{r['ours_seconds']:.2f} s",
                f"{r['raw_same_shape_seconds']:.2f} s",
                f"{r['ratio_to_raw_same_shape']:.2f} x",
            )
        )
        section.rows.append(
            Row(
                f"{backend}: peak memory of ours (process RSS high-water mark)",
                f"{r['peak_rss_mb']:.0f} MB (at start {r['rss_before_mb']:.0f} MB)",
                target=f"<= {TARGET_PEAK_MB} MB",
                met=r["peak_rss_mb"] <= TARGET_PEAK_MB,
            )
        )
    section.notes += [
        f"Generating 1,000,000 codes alone (no storage): {results['generate_1m_seconds']:.2f} s.",
        "Ours = `store_generated_codes` (generation included) into `coupons` of a freshly migrated database, "
        "in a child process; raw = the same pre-generated codes (generation excluded) stored by one "
        "`executemany` in one transaction (SQLite) or one `COPY` (PostgreSQL) into a fresh table with a "
        "unique index (bench/bench_codes.py).",
    ]
    if quick:
        section.notes.append("Quick mode: 20,000 codes, so fixed costs weigh more than at a million.")
    return section
