"""Customer profiles and order events, as a shop sends them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from couponry.api.schemas.common import (
    MAX_AMOUNT,
    Amount,
    Attributes,
    Currency,
    CustomerId,
    Flag,
    Id,
    Label,
    Timestamp,
)


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real calendar date, YYYY-MM-DD") from None
    return value


class CustomerIn(BaseModel):
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    birthday: (
        Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_real_date)] | None
    ) = None
    tags: Annotated[list[Label], Field(max_length=100)] = []
    attributes: Attributes = {}
    marketing_consent: Flag = False
    signed_up_at: Timestamp | None = Field(None, description="Default: the time of the first PUT")
    referred_by: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        None, description="Another customer's referral code; taken on the customer's first PUT only"
    )


class OrderLineIn(BaseModel):
    """A line of a completed order as the loyalty program reads it: its amount after discounts."""

    product_id: Label | None = None
    category: Label | None = None
    brand: Label | None = None
    amount: Amount


class EventIn(BaseModel):
    type: Literal["order.completed", "order.refunded", "customer.created"]
    customer_id: CustomerId
    order_id: Id | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    occurred_at: Timestamp | None = Field(None, description="When it happened (default: when received)")
    lines: list[OrderLineIn] | None = Field(
        None,
        max_length=1000,
        description="order.completed: the order's lines (loyalty points are earned per line after discounts; "
        "without lines, `amount` earns at the base rate)",
    )

    @model_validator(mode="after")
    def _lines_add_up_to_an_amount(self) -> EventIn:
        if self.lines and sum(line.amount for line in self.lines) > MAX_AMOUNT:
            raise ValueError(f"lines: the amounts add up to more than {MAX_AMOUNT}")
        return self
