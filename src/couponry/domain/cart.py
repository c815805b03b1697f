"""The cart a shop sends for validation, reservation and redemption."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CartLine:
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

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)
