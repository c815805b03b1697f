"""The A/B statistics, checked against scipy and a textbook example, and by simulation."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sp

from couponry.domain.experiments import (
    MIN_SAMPLE,
    Arm,
    chi_square_sf,
    draw,
    sample_ratio_p_value,
    two_proportion_z_test,
    verdict,
)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(100, 1000, 150, 1000), (45, 500, 60, 480), (1, 30, 2, 40), (200, 2000, 200, 2000), (7, 9, 1, 11)],
)
def test_the_z_test_agrees_with_scipy(x1: int, n1: int, x2: int, n2: int) -> None:
    test = two_proportion_z_test(x1, n1, x2, n2)
    assert test is not None
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert test.z == pytest.approx(z, rel=1e-12)
    assert test.p_value == pytest.approx(2 * sp.norm.sf(abs(z)), rel=1e-9, abs=1e-15)


def test_the_z_test_of_a_textbook_example() -> None:
    """Two campaigns: 10 % of 1,000 vs 15 % of 1,000 redeemed: z = 3.38, p = 0.0007 (two-sided)."""
    test = two_proportion_z_test(100, 1000, 150, 1000)
    assert test is not None
    assert round(test.z, 2) == 3.38
    assert round(test.p_value, 4) == 0.0007


def test_the_z_test_is_undefined_without_trials_or_variance() -> None:
    assert two_proportion_z_test(0, 0, 1, 10) is None
    assert two_proportion_z_test(0, 10, 0, 10) is None


@pytest.mark.parametrize("dof", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("statistic", [0.01, 0.5, 1.0, 3.84, 7.5, 20.0, 80.0])
def test_the_chi_square_tail_agrees_with_scipy(statistic: float, dof: int) -> None:
    assert chi_square_sf(statistic, dof) == pytest.approx(sp.chi2.sf(statistic, dof), rel=1e-9, abs=1e-300)


def test_the_sample_ratio_check_agrees_with_scipy_and_flags_a_broken_split() -> None:
    observed, weights = [5120, 4880], [1, 1]
    expected = [sum(observed) * w / sum(weights) for w in weights]
    assert sample_ratio_p_value(observed, weights) == pytest.approx(sp.chisquare(observed, expected).pvalue)
    assert sample_ratio_p_value([6000, 4000], [1, 1]) < 1e-6
    assert sample_ratio_p_value([2010, 990, 1000], [2, 1, 1]) > 0.05
    assert sample_ratio_p_value([0, 0], [1, 1]) is None


def test_no_winner_below_the_minimum_sample_even_when_significant() -> None:
    small = verdict([Arm("a", 400, 4), Arm("b", 400, 120)])
    assert small.p_value is not None and small.p_value < 1e-6
    assert small.winner is None
    big = verdict([Arm("a", MIN_SAMPLE, 100), Arm("b", MIN_SAMPLE, 150)])
    assert big.winner == "b"
    reversed_ = verdict([Arm("a", MIN_SAMPLE, 150), Arm("b", MIN_SAMPLE, 100)])
    assert reversed_.winner == "a"


def test_redemptions_beyond_the_issued_coupons_do_not_count_as_more_conversions() -> None:
    assert Arm("a", 10, 25).conversions == 10


def test_draws_follow_the_weights() -> None:
    rng = random.Random(7)
    counts = {"a": 0, "b": 0}
    for _ in range(30_000):
        counts[draw(["a", "b"], [3, 1], rng.random())] += 1
    assert counts["a"] / 30_000 == pytest.approx(0.75, abs=0.01)


def _simulate(rate_a: float, rate_b: float, customers: int, seed: int) -> str | None:
    rng = random.Random(seed)
    issued = {"a": 0, "b": 0}
    redeemed = {"a": 0, "b": 0}
    rates = {"a": rate_a, "b": rate_b}
    for _ in range(customers):
        arm = draw(["a", "b"], [1, 1], rng.random())
        issued[arm] += 1
        redeemed[arm] += rng.random() < rates[arm]
    return verdict([Arm(k, issued[k], redeemed[k]) for k in ("a", "b")]).winner


def test_a_simulated_test_of_10_against_15_percent_over_4000_customers_finds_the_winner() -> None:
    winners = [_simulate(0.10, 0.15, 4000, seed) for seed in range(20)]
    # the power of this test is about 0.99: every seeded run names b, never a
    assert winners.count("b") >= 19 and "a" not in winners


def test_a_simulated_test_of_equal_rates_almost_never_names_a_winner() -> None:
    winners = [_simulate(0.10, 0.10, 4000, seed) for seed in range(200)]
    # a false positive rate of 5 % is 10 expected in 200 runs; far more would mean a wrong test
    assert sum(w is not None for w in winners) <= 20
