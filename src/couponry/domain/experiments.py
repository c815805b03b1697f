"""The statistics of an A/B test, in plain math (no I/O, no scipy).

- `two_proportion_z_test`: is one arm's redemption rate (redeemed / issued) different from the other's?
  Pooled standard error, two-sided p-value.
- `sample_ratio_p_value`: did the arms get the share of customers their weights promised? A chi-square
  goodness-of-fit test of issued per arm against the weights; a tiny p-value means the assignment is
  broken and the test's results should not be trusted (a "sample ratio mismatch").
- `winner`: the arm with the higher rate, only when p < ALPHA and every arm reached MIN_SAMPLE.
  The sample is fixed in advance (read the result once the arms have it): looking every day and stopping
  at the first p < 0.05 inflates false positives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05
MIN_SAMPLE = 1000  # issued per arm before a winner is named (README "Measuring")


@dataclass(frozen=True, slots=True)
class ZTest:
    z: float
    p_value: float


def normal_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ZTest | None:
    """z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b)) with p pooled; None when it is undefined
    (an arm with no trials, or both rates 0 or both 1)."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b)
    if variance <= 0.0:
        return None
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return ZTest(z, min(1.0, 2.0 * normal_sf(abs(z))))


def _lower_gamma_series(s: float, x: float) -> float:
    """The regularized lower incomplete gamma P(s, x) by its power series (x < s + 1)."""
    term = total = 1.0 / s
    n = s
    for _ in range(10_000):
        n += 1.0
        term *= x / n
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + s * math.log(x) - math.lgamma(s))


def _upper_gamma_fraction(s: float, x: float) -> float:
    """The regularized upper incomplete gamma Q(s, x) by its continued fraction (x >= s + 1, Lentz)."""
    tiny = 1e-300
    b = x + 1.0 - s
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - s)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h * math.exp(-x + s * math.log(x) - math.lgamma(s))


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for X chi-square with `dof` degrees of freedom: Q(dof / 2, statistic / 2)."""
    if statistic <= 0.0:
        return 1.0
    s, x = dof / 2.0, statistic / 2.0
    if x < s + 1.0:
        return max(0.0, 1.0 - _lower_gamma_series(s, x))
    return min(1.0, _upper_gamma_fraction(s, x))


def sample_ratio_p_value(issued: Sequence[int], weights: Sequence[float]) -> float | None:
    """Chi-square goodness of fit of issued per arm against the weights; None before anyone is issued."""
    total = sum(issued)
    weight_sum = sum(weights)
    if total == 0 or len(issued) < 2 or weight_sum <= 0:
        return None
    statistic = 0.0
    for observed, weight in zip(issued, weights, strict=True):
        expected = total * weight / weight_sum
        if expected <= 0.0:
            if observed:
                return 0.0
            continue
        statistic += (observed - expected) ** 2 / expected
    return chi_square_sf(statistic, len(issued) - 1)


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    issued: int
    redeemed: int

    @property
    def conversions(self) -> int:
        """Redemptions counted as conversions of issued coupons (never more than were issued)."""
        return min(self.redeemed, self.issued)

    @property
    def rate(self) -> float:
        return self.conversions / self.issued if self.issued else 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    p_value: float | None
    z: float | None
    winner: str | None
    compared: tuple[str, str] | None  # the two arms the test compared (baseline, challenger)


def verdict(arms: Sequence[Arm], baseline: str | None = None) -> Verdict:
    """Compare the baseline (the control, else the first arm) with the best other arm by rate.

    With more than two arms the p-value is Bonferroni-corrected for the comparisons one could have made
    against the baseline, so picking the best of several does not lower the bar."""
    if len(arms) < 2:
        return Verdict(None, None, None, None)
    base = next((a for a in arms if a.name == baseline), arms[0])
    others = [a for a in arms if a is not base]
    best = max(others, key=lambda a: (a.rate, a.issued))
    test = two_proportion_z_test(base.conversions, base.issued, best.conversions, best.issued)
    if test is None:
        return Verdict(None, None, None, (base.name, best.name))
    p_value = min(1.0, test.p_value * len(others))
    enough = all(a.issued >= MIN_SAMPLE for a in arms)
    winner = None
    if enough and p_value < ALPHA:
        winner = best.name if test.z > 0 else base.name
    return Verdict(p_value, test.z, winner, (base.name, best.name))


def draw(names: Sequence[str], weights: Sequence[float], u: float) -> str:
    """The arm a uniform draw u in [0, 1) falls in, each arm taking its weight's share of [0, 1)."""
    total = sum(weights)
    edge = 0.0
    for name, weight in zip(names, weights, strict=True):
        edge += weight / total
        if u < edge:
            return name
    return names[-1]


def why_no_winner(p_value: float | None, issued: Sequence[int]) -> str | None:
    """Why `verdict` named no winner, as a stable code (None when it would name one):
    `not_testable` (fewer than two arms, an arm with nothing issued, or every rate equal at 0 or 1),
    `sample_too_small` (an arm below MIN_SAMPLE issued: read the test once every arm has it),
    `not_significant` (p >= ALPHA)."""
    if len(issued) < 2 or p_value is None:
        return "not_testable"
    if min(issued) < MIN_SAMPLE:
        return "sample_too_small"
    if p_value >= ALPHA:
        return "not_significant"
    return None
