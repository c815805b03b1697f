"""The one rounding rule of Couponry, written as a specification.

A percent discount is computed on the qualifying *total*, rounded half-up to the minor unit, then
capped, then allocated to lines by largest remainder. Rounding per line instead drifts: three lines of
333 at 12.5 % are 41.625 each, 42 * 3 = 126 per line, but 12.5 % of 999 = 124.875 -> 125 on the total.

| qualifying total | percent | exact   | discount |
|------------------|---------|---------|----------|
| 1999             | 10      | 199.9   | 200      |
| 1005             | 10      | 100.5   | 101      |
| 333              | 12.5    | 41.625  | 42       |
| 1                | 50      | 0.5     | 1        |
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from couponry.domain.money import Money, allocate, percent_of, round_half_up


@pytest.mark.parametrize(
    ("total", "percent", "expected"),
    [
        (1999, Fraction(10), 200),
        (1005, Fraction(10), 101),
        (333, Fraction(25, 2), 42),
        (1, Fraction(50), 1),
        (5, Fraction(10), 1),
        (2015, Fraction(10), 202),
        (4, Fraction(25, 2), 1),
        (12, Fraction(25, 2), 2),
        (3, Fraction(50), 2),
        (1250, Fraction(1, 5), 3),
        (999, Fraction(25, 2), 125),
        (0, Fraction(10), 0),
        (4321, Fraction(100), 4321),
    ],
)
def test_percent_is_taken_of_the_total_and_rounded_half_up(
    total: int, percent: Fraction, expected: int
) -> None:
    assert percent_of(total, percent) == expected


def test_exact_halves_round_up_and_everything_else_to_the_nearest() -> None:
    assert [round_half_up(Fraction(n, 4)) for n in range(9)] == [0, 0, 1, 1, 1, 1, 2, 2, 2]


def test_rounding_refuses_negative_amounts() -> None:
    with pytest.raises(ValueError):
        round_half_up(Fraction(-1, 2))


def test_rounding_per_line_would_drift_from_rounding_on_the_total() -> None:
    per_line = sum(percent_of(333, Fraction(25, 2)) for _ in range(3))
    on_total = percent_of(999, Fraction(25, 2))
    assert (per_line, on_total) == (126, 125)
    assert sum(allocate(on_total, [333, 333, 333])) == 125


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (125, [333, 333, 333], [42, 42, 41]),
        (10, [5, 0, 5], [5, 0, 5]),
        (7, [1000, 3000], [2, 5]),
        (0, [10, 20], [0, 0]),
        (30, [10, 20], [10, 20]),
    ],
)
def test_allocation_is_proportional_and_sums_exactly(
    amount: int, weights: list[int], expected: list[int]
) -> None:
    parts = allocate(amount, weights)
    assert parts == expected
    assert sum(parts) == amount


def test_allocation_ties_go_to_the_earlier_line() -> None:
    assert allocate(1, [50, 50, 50]) == [1, 0, 0]
    assert allocate(2, [50, 50, 50]) == [1, 1, 0]


def test_allocation_over_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        allocate(5, [0, 0])
    with pytest.raises(ValueError):
        allocate(-1, [1])


def test_money_refuses_floats_and_booleans() -> None:
    with pytest.raises(TypeError):
        Money(10.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")


def test_money_refuses_a_currency_that_is_not_iso_4217_shaped() -> None:
    with pytest.raises(ValueError):
        Money(100, "usd")


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(ValueError):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(ValueError):
        _ = Money(100, "USD") < Money(100, "EUR")


def test_money_adds_subtracts_and_compares_within_one_currency() -> None:
    a, b = Money(1500, "NOK"), Money(500, "NOK")
    assert a + b == Money(2000, "NOK")
    assert a - b == Money(1000, "NOK")
    assert b < a and b <= b
