"""The one place where errors become RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from couponry.domain import errors

log = logging.getLogger("couponry.api")
PROBLEM = "application/problem+json"

STATUS: list[tuple[type[errors.CouponryError], int]] = [
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.Throttled, 429),
]


def status_of(exc: errors.CouponryError) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://couponry.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body["code"] = code
    body.update(extra)
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


DISCOUNT_TAGS = {"amount", "amount_per_item", "percent", "free_shipping", "tiered"}


def _field(loc: tuple[Any, ...]) -> str:
    """("body", "discount", "percent", "percent") -> "discount.percent" (pydantic puts the union's tag in)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    kept = [
        p
        for i, p in enumerate(parts)
        if not (i and parts[i - 1] == "discount" and p in DISCOUNT_TAGS and i + 1 < len(parts))
    ]
    return ".".join(p if not p.isdigit() else f"[{p}]" for p in kept).replace(".[", "[") or "body"


def _validation_code(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(getattr(route, "endpoint", None), "validation_code", "invalid_request")


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.CouponryError)
    async def domain_error(request: Request, exc: errors.CouponryError) -> JSONResponse:
        extra = dict(exc.extra)
        return problem(status_of(exc), exc.code, exc.title, exc.detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        first = issues[0] if issues else {"field": "body", "message": "invalid"}
        return problem(
            422,
            _validation_code(request),
            "Invalid request",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=issues,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "internal_error", "Internal error", "an unexpected error occurred")


def validation_code(code: str):  # noqa: ANN201
    """Mark a route whose malformed input is refused with a specific code (e.g. invalid_campaign)."""

    def mark(endpoint):  # noqa: ANN001, ANN202
        endpoint.validation_code = code
        return endpoint

    return mark
