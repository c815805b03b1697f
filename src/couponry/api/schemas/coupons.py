"""Issuing codes: vanity codes or a count of generated ones."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from couponry.api.schemas.common import CustomerId
from couponry.domain.codes import MAX_CODE_LENGTH

PERSONAL_COUNT_LIMIT = 1000
VanityCode = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE_LENGTH)]


class IssueCodes(BaseModel):
    customer_id: CustomerId | None = None  # first, so that `count` is checked knowing it
    codes: Annotated[list[VanityCode], Field(min_length=1, max_length=10_000)] | None = None
    count: Annotated[int, Field(strict=True, ge=1, le=100_000_000)] | None = None

    @field_validator("count")
    @classmethod
    def _personal_codes_a_few_at_a_time(cls, count: int | None, info: ValidationInfo) -> int | None:
        """Personal coupons are handed to one customer a few at a time; millions of them (a bulk job with
        a customer_id) made every read of that customer's wallet sort millions of rows."""
        if count is not None and count > PERSONAL_COUNT_LIMIT and info.data.get("customer_id") is not None:
            raise ValueError(f"at most {PERSONAL_COUNT_LIMIT} codes at once for one customer")
        return count
