"""Pricing core in process: bench/bench_pricing.py's figures against their targets (no raw baseline)."""

from __future__ import annotations

from couponry.bench.common import Row, Section, num


def run(quick: bool) -> Section:
    section = Section("Pricing core, in process (no database, no HTTP)")
    from couponry.bench import pricing_core as script

    rounds = 200 if quick else 2000
    f = script.run(rounds=rounds)
    targets = script.TARGETS_MS
    section.rows += [
        Row(
            "30-line cart vs 50-coupon wallet, best coupons: p99",
            f"{f['best_combination_p99']:.3f} ms (p50 {f['best_combination_p50']:.3f} ms)",
            target=f"<= {targets['best_combination_p99']} ms",
            met=f["best_combination_p99"] <= targets["best_combination_p99"],
        ),
        Row(
            "10-line cart, 5 stacking codes, price: p99",
            f"{f['price_p99']:.3f} ms (p50 {f['price_p50']:.3f} ms)",
            target=f"<= {targets['price_p99']} ms",
            met=f["price_p99"] <= targets["price_p99"],
        ),
    ]
    section.notes += [
        f"{num(rounds)} timed rounds each after a warm-up, one thread (bench/bench_pricing.py `run()`).",
        f"Best combination chosen: {f['best_combination_codes']} codes "
        f"saving {f['best_combination_saving']} cents.",
    ]
    return section
