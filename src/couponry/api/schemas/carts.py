"""Cart, validation, reservation and redemption schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from couponry.api.schemas.common import (
    MAX_AMOUNT,
    Amount,
    Country,
    Currency,
    CustomerId,
    Flag,
    Id,
    Label,
    Quantity,
)
from couponry.domain.cart import Cart, CartLine

Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LineIn(BaseModel):
    id: Id
    product_id: Label | None = None
    category: Label | None = None
    brand: Label | None = None
    store_id: Id | None = None
    unit_price: Amount
    quantity: Quantity
    on_sale: Flag = False


class CartIn(BaseModel):
    currency: Currency
    channel: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "online"
    shipping: Amount = 0
    shipping_country: Country | None = None
    lines: Annotated[list[LineIn], Field(max_length=500)]

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[LineIn]) -> list[LineIn]:
        seen: set[str] = set()
        for line in lines:
            if line.id in seen:
                raise ValueError(f"line id {line.id!r} appears twice")
            seen.add(line.id)
        return lines

    @model_validator(mode="after")
    def _bounded_total(self) -> CartIn:
        """Each amount is bounded, but unit_price x quantity summed over 500 lines is not: bound the
        total, so no sum, discount or budget counter derived from this cart can overflow."""
        if sum(line.unit_price * line.quantity for line in self.lines) + self.shipping > MAX_AMOUNT:
            raise ValueError(f"unit_price x quantity over all lines plus shipping exceeds {MAX_AMOUNT}")
        return self

    def to_domain(self) -> Cart:
        return Cart(
            currency=self.currency,
            lines=tuple(
                CartLine(
                    line.id,
                    line.unit_price,
                    line.quantity,
                    line.product_id,
                    line.category,
                    line.brand,
                    line.store_id,
                    line.on_sale,
                )
                for line in self.lines
            ),
            shipping=self.shipping,
            channel=self.channel,
            shipping_country=self.shipping_country,
        )


Codes = Annotated[list[Code], Field(max_length=20)]


class ValidationIn(BaseModel):
    cart: CartIn
    codes: Annotated[list[Code], Field(min_length=1, max_length=20)]
    customer_id: CustomerId | None = None


class RedemptionIn(BaseModel):
    order_id: Id
    cart: CartIn | None = None
    codes: Codes = []
    customer_id: CustomerId | None = None
    reservation_id: Id | None = None

    @model_validator(mode="after")
    def _cart_and_codes_unless_confirming(self) -> RedemptionIn:
        if self.reservation_id is None and (self.cart is None or not self.codes):
            raise ValueError("cart and codes are required unless reservation_id is given")
        return self


class ReservationIn(BaseModel):
    order_id: Id
    cart: CartIn
    codes: Annotated[list[Code], Field(min_length=1, max_length=20)]
    customer_id: CustomerId | None = None
    ttl_seconds: Annotated[int, Field(strict=True, ge=1, le=7 * 24 * 3600)] = 900


class BestCouponsIn(BaseModel):
    cart: CartIn
    customer_id: CustomerId | None = None
    codes: Codes = []


class RefundLineIn(BaseModel):
    id: Id
    quantity: Quantity


class RollbackIn(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=200)] = "refund"
    lines: Annotated[list[RefundLineIn], Field(max_length=500)] | None = None


class CodeResultOut(BaseModel):
    code: str
    valid: bool
    campaign_id: str | None = None
    discount: int | None = None
    shipping_discount: int | None = None
    lines: list[dict[str, Any]] | None = None
    reason: str | None = None
    message: str | None = None


class LineOut(BaseModel):
    id: str
    amount: int
    discount: int


class ValidationOut(BaseModel):
    valid: bool
    currency: str
    subtotal: int
    shipping: int
    discount: int
    shipping_discount: int
    total: int
    codes: list[CodeResultOut]
    lines: list[LineOut]


class RedemptionOut(ValidationOut):
    id: str
    order_id: str
    status: str
    customer_id: str | None = None
    reservation_id: str | None = None
    created_at: str
    rolled_back_at: str | None = None
    rollback_reason: str | None = None
    returned_discount: int = 0


class ReservationOut(ValidationOut):
    id: str
    order_id: str
    status: str
    customer_id: str | None = None
    expires_at: str
