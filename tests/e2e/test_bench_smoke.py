"""`couponry bench` smoke check: the quick pricing part runs and its report carries figures and verdicts.

It does not judge the figures: on a busy machine a target may be missed, so a "no" verdict passes here.
The targets themselves are measured by `couponry bench` and reported in bench/RESULTS.md.
"""

from __future__ import annotations

import re

from couponry.bench.suite import run_all


def test_quick_pricing_report_has_figures_and_a_verdict_per_target_met_or_not() -> None:
    report = run_all(quick=True, only={"pricing"})

    assert report.startswith("# Couponry benchmarks")
    assert "## Pricing core" in report
    assert "FAILED" not in report and "Skipped" not in report
    p99s = re.findall(r"\| ([0-9]+\.[0-9]{3}) ms \(p50 ([0-9]+\.[0-9]{3}) ms\)", report)
    assert len(p99s) == 2
    assert all(float(p50) <= float(p99) for p99, p50 in p99s)
    assert re.search(r"\| <= 5\.0 ms \| (yes|\*\*no\*\*) \|", report)
    assert re.search(r"\| <= 1\.5 ms \| (yes|\*\*no\*\*) \|", report)
    assert "## Validation" not in report  # only the part asked for ran


def test_quick_distribution_report_compares_push_and_segment_count_with_raw_sql() -> None:
    report = run_all(quick=True, only={"distribution"})

    assert "## Reaching customers" in report
    assert "FAILED" not in report
    assert re.search(
        r"sqlite: seconds to push a campaign to 5,000 customers .*\| [0-9.]+ s \| [0-9.]+ s \|", report
    )


def test_quick_claims_report_compares_a_hot_campaign_with_raw_sql_and_claims_exactly_the_stock() -> None:
    report = run_all(quick=True, only={"claims"})

    assert "## Claims over HTTP" in report
    assert "FAILED" not in report and "Skipped" not in report
    assert re.search(r"successful claims/s \| [0-9,]+ /s \| [0-9,]+ tps \| [0-9.]+ % \| >= 40\.0 %", report)
    assert re.search(r"200 claims of a stock of 200; stock counter 200, 200 coupons.*\| yes \|", report)
