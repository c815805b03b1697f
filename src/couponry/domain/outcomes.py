"""What the pricing core answers: per code valid or the reason, the discount per line, the totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from couponry.domain.reasons import MESSAGES, Reason

# The per-line records (LineDiscount, LineTotal) are NamedTuples: immutable like the frozen dataclasses
# around them, and built several times faster, which matters at one of each per cart line and code.


class LineDiscount(NamedTuple):
    """The part of one code's discount that falls on one cart line, and the store that line belongs to."""

    line_id: str
    discount: int
    store_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    code: str
    valid: bool
    campaign_id: str | None = None
    reason: Reason | None = None
    discount: int = 0
    shipping_discount: int = 0
    lines: tuple[LineDiscount, ...] = ()
    issuer_key: str | None = None
    hint: str | None = None

    @property
    def message(self) -> str | None:
        if self.reason is None:
            return None
        return MESSAGES[self.reason] + (f" {self.hint}" if self.hint else "")


class LineTotal(NamedTuple):
    id: str
    amount: int
    discount: int


@dataclass(frozen=True, slots=True)
class PricingResult:
    currency: str
    subtotal: int
    shipping: int
    discount: int
    shipping_discount: int
    codes: tuple[CodeOutcome, ...]
    lines: tuple[LineTotal, ...]

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping - self.discount - self.shipping_discount

    @property
    def valid(self) -> bool:
        """True when at least one code was given and every code applies."""
        return bool(self.codes) and all(c.valid for c in self.codes)
