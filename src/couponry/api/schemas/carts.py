"""Cart, validation, reservation and redemption schemas."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, ValidationError, field_validator, model_validator

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
from couponry.api.schemas.lean import lean_adapter
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

    # Besides the fields' constraints, whichever way a cart is parsed (lean_cart below for the fast
    # path): line ids are unique, and unit_price x quantity summed over the lines plus shipping stays
    # within MAX_AMOUNT (each amount is bounded, their sum over 500 lines is not), so that no sum,
    # discount or budget counter derived from a cart can overflow.

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[LineIn]) -> list[LineIn]:
        twice = _repeated([line.id for line in lines])
        if twice is not None:
            raise ValueError(f"line id {twice!r} appears twice")
        return lines

    @model_validator(mode="after")
    def _bounded_total(self) -> CartIn:
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


def _repeated(ids: list[str]) -> str | None:
    """The first line id that appears twice in a cart, if any."""
    seen: set[str] = set()
    for line_id in ids:
        if line_id in seen:
            return line_id
        seen.add(line_id)
    return None


@dataclass(frozen=True, slots=True)
class ValidationRequest:
    """A validation body as the fast path (api.fast_path) parses it: the domain cart at once."""

    cart: Cart
    codes: list[str]
    customer_id: str | None


def _default(model: type[BaseModel], field: str) -> Any:
    return model.model_fields[field].default


_new_line = partial(tuple.__new__, CartLine)  # a CartLine from a ready tuple (NamedTuple._make's way)
_LINE_DEFAULTS = tuple(
    _default(LineIn, f) for f in ("product_id", "category", "brand", "store_id", "on_sale")
)
_CART_DEFAULTS = tuple(_default(CartIn, f) for f in ("shipping", "channel", "shipping_country"))


def lean_cart(data: dict[str, Any]) -> Cart | None:
    """The domain cart of a CartIn validated as dicts (api.schemas.lean), with CartIn's defaults; None
    for a cart CartIn's validators refuse."""
    product, category, brand, store, on_sale = _LINE_DEFAULTS
    lines = []
    for line in data["lines"]:
        get = line.get
        lines.append(
            _new_line(
                (
                    line["id"],
                    line["unit_price"],
                    line["quantity"],
                    get("product_id", product),
                    get("category", category),
                    get("brand", brand),
                    get("store_id", store),
                    get("on_sale", on_sale),
                )
            )
        )
    if _repeated([line.id for line in lines]) is not None:  # CartIn._unique_line_ids
        return None
    shipping, channel, country = _CART_DEFAULTS
    get = data.get
    cart = Cart(
        data["currency"],
        tuple(lines),
        get("shipping", shipping),
        get("channel", channel),
        get("shipping_country", country),
    )
    return None if cart.subtotal + cart.shipping > MAX_AMOUNT else cart


def parse_validation(raw: bytes) -> ValidationRequest | None:
    """A ValidationIn body as ValidationRequest, or None for what ValidationIn would refuse (and for
    nothing else). About twice as fast as the model and its to_domain (api.schemas.lean)."""
    try:
        data = lean_adapter(ValidationIn).validate_json(raw)
    except ValidationError:
        return None
    cart = lean_cart(data["cart"])
    if cart is None:
        return None
    return ValidationRequest(cart, data["codes"], data.get("customer_id"))


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
