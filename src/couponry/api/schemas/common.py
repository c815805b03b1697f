"""Bounds shared by every request schema: what a client may send, at most, and in which exact type.

Every amount is an integer no larger than 2**53 - 1, the largest integer a JSON number keeps exactly in
every client (JavaScript's Number.MAX_SAFE_INTEGER), which also leaves room to add amounts up in a
64-bit database column; every count (limits, quantities) fits the 32-bit columns that store it.
Every string and list has a maximum length. Booleans and timestamps are strict: `0` is not `false`,
and `0` is not a moment in 1970.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

MAX_AMOUNT = 2**53 - 1
MAX_COUNT = 2**31 - 1  # limits and counters are 32-bit columns
MAX_QUANTITY = 1_000_000

Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
Days = Annotated[int, Field(strict=True, ge=1, le=36_500)]
Flag = Annotated[bool, Field(strict=True)]

Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=100)]  # customers.id is 100 wide
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]  # product ids, categories, tags
Labels = Annotated[list[Label], Field(max_length=1000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=500)]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: Any) -> Any:
    """Only an RFC 3339 string with an offset is a timestamp (pydantic would also take numbers)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-01-31T09:00:00Z")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must lie between the years 1970 and 9999") from None
    if not 1970 <= utc.year <= 9999:
        raise ValueError("must lie between the years 1970 and 9999")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_representable_in_utc)]

# Customer attributes: free-form JSON for segments, kept small and shallow so that storing, reading and
# matching them stays cheap (an attribute nested 900 deep used to be saved and then break every read).
ATTRIBUTES_MAX_DEPTH = 4
ATTRIBUTES_MAX_BYTES = 16 * 1024
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    _check_depth(value, 1)
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except ValueError:
        raise ValueError("numbers must be finite") from None
    if size > ATTRIBUTES_MAX_BYTES:
        raise ValueError(f"must encode to at most {ATTRIBUTES_MAX_BYTES} bytes of JSON ({size} given)")
    return value


def _check_depth(value: Any, depth: int) -> None:
    if isinstance(value, dict | list):
        if depth > ATTRIBUTES_MAX_DEPTH:
            raise ValueError(f"may nest objects and lists at most {ATTRIBUTES_MAX_DEPTH} deep")
        for item in value.values() if isinstance(value, dict) else value:
            _check_depth(item, depth + 1)


Attributes = Annotated[
    dict[AttributeKey, Any],
    Field(
        max_length=100,
        description=f"Free-form JSON: at most 100 keys, {ATTRIBUTES_MAX_DEPTH} levels of nesting "
        f"and {ATTRIBUTES_MAX_BYTES} bytes.",
    ),
    AfterValidator(_bounded_json),
]

# Path parameters: the ids the server hands out are 32 hex characters; customer ids are the shop's own.
ResourceIdPath = Annotated[str, Path(min_length=1, max_length=64)]
CustomerIdPath = Annotated[str, Path(min_length=1, max_length=100)]
