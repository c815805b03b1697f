"""Issuing codes: vanity codes or a count of generated ones."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from couponry.api.schemas.common import CustomerId
from couponry.domain.codes import MAX_CODE_LENGTH

VanityCode = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE_LENGTH)]


class IssueCodes(BaseModel):
    codes: Annotated[list[VanityCode], Field(min_length=1, max_length=10_000)] | None = None
    count: Annotated[int, Field(strict=True, ge=1, le=100_000_000)] | None = None
    customer_id: CustomerId | None = None
