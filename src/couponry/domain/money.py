"""Money arithmetic in integer minor units, and the one rounding rule of Couponry.

The rule, written once (shared/API.md): a percent discount is computed on the qualifying total and
rounded half-up to the minor unit, then capped; every discount is then spread over lines by largest
remainder, so the lines sum exactly to the discount and no line goes below zero.

| qualifying total | percent | exact     | discount |
|------------------|---------|-----------|----------|
| 1999             | 10      | 199.9     | 200      |
| 1005             | 10      | 100.5     | 101      |
| 333              | 12.5    | 41.625    | 42       |
| 1                | 50      | 0.5       | 1        |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact fraction to the nearest integer, halves away from zero."""
    if value < 0:
        raise ValueError("amounts are never negative")
    return int(value + Fraction(1, 2))


def percent_of(total: int, percent: Fraction) -> int:
    """`percent` % of `total` minor units, rounded half-up (the one rounding rule).

    The same as round_half_up(Fraction(total) * percent / 100), in integers: for p/q percent the exact
    value is total*p / (100*q), and adding a half before flooring is (2*total*p + 100*q) // (200*q).
    A fifth of the Fraction way's cost, on every percent coupon of every validation."""
    p, q = percent.numerator, percent.denominator  # q > 0: a Fraction keeps the sign in p
    if total * p < 0:
        raise ValueError("amounts are never negative")
    return (2 * total * p + 100 * q) // (200 * q)


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` over `weights` in proportion, in whole units, largest remainder first.

    The parts sum exactly to `amount`; no part exceeds its weight when `amount <= sum(weights)`;
    ties in the remainder go to the earlier weight, so the result is deterministic.
    """
    if amount < 0 or (weights and min(weights) < 0):
        raise ValueError("amount and weights must be non-negative")
    total = sum(weights)
    if amount == 0 or total == 0:
        if amount and not total:
            raise ValueError("cannot allocate a positive amount over zero weights")
        return [0] * len(weights)
    parts = []
    remainders = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(amount * weight, total)
        parts.append(share)
        remainders.append((-remainder, index))
    left = amount - sum(parts)
    for _, index in sorted(remainders)[:left]:
        parts[index] += 1
    return parts


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one ISO 4217 currency; refuses floats and mixed currencies."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money amounts are integers in minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount
