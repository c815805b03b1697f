"""The cart a shop sends for validation, reservation and redemption."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class CartLine(NamedTuple):
    """One line of the cart. A NamedTuple rather than a frozen dataclass, like the other per-line
    records of pricing (domain.outcomes): as immutable, and built several times faster (a frozen
    dataclass sets each field through object.__setattr__), which showed on a 20-line validation."""

    id: str
    unit_price: int
    quantity: int
    product_id: str | None = None
    category: str | None = None
    brand: str | None = None
    store_id: str | None = None
    on_sale: bool = False

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Cart:
    currency: str
    lines: tuple[CartLine, ...]
    shipping: int = 0
    channel: str = "online"
    shipping_country: str | None = None
    # each line's amount and their sum, computed once: pricing reads them for every code it weighs
    amounts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    subtotal: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        amounts = tuple([line.unit_price * line.quantity for line in self.lines])
        object.__setattr__(self, "amounts", amounts)
        object.__setattr__(self, "subtotal", sum(amounts))

    def as_json(self) -> dict[str, Any]:
        """The cart as JSON-ready data (lines as objects), as stored with a reservation."""
        return {
            "currency": self.currency,
            "lines": [line._asdict() for line in self.lines],
            "shipping": self.shipping,
            "channel": self.channel,
            "shipping_country": self.shipping_country,
        }
