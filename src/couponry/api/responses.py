"""How answers are written: JSON bodies serialized once (orjson), and the OpenAPI descriptions of the
error answers every route may give (problem+json)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel


class Json(Response):
    """A JSON answer from plain data (dicts, lists, strings, numbers), serialized once by orjson.

    Hot routes return it with `response_model=` kept for the OpenAPI document only: FastAPI passes a
    Response through without validating or re-encoding it."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Problem(BaseModel):
    """RFC 9457 problem details, with Couponry's stable machine-readable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {"application/problem+json": {}}}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("Missing or unknown API key"),
    403: _problem("This key's role or store may not do this"),
    404: _problem("No such resource"),
    409: _problem("Conflict (refused redemption, code taken, idempotency key reused ...)"),
    413: _problem("Request body too large (`body_too_large`; COUPONRY_MAX_BODY_BYTES)"),
    415: _problem("The body was not sent as JSON (Content-Type: application/json)"),
    422: _problem("Malformed input; `field` names the offending field"),
    429: _problem("Too many unknown codes from this key; see Retry-After"),
}
