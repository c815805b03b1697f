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


UNPARSABLE_BODY = "There was an error parsing the body"
SEND_JSON = "send the body as JSON with the header Content-Type: application/json"


def _unreadable_body(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """A body that is not JSON at all, or not the JSON object a route takes, explained in words (pydantic
    would say "[32]: JSON decode error" or "Input should be a valid dictionary")."""
    errors_ = exc.errors()
    first = errors_[0] if errors_ else {}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "json_invalid" and loc[:1] == ("body",):
        where = ""
        if len(loc) == 2 and isinstance(loc[1], int) and isinstance(exc.body, str):
            line = exc.body.count("\n", 0, loc[1]) + 1
            column = loc[1] - exc.body.rfind("\n", 0, loc[1])
            where = f" at line {line} column {column}"
        reason = first.get("ctx", {}).get("error", "malformed")
        detail = f"the body is not valid JSON: {reason}{where}"
        return problem(422, _validation_code(request), "Invalid request", detail, field="body")
    if loc != ("body",):
        return None
    if first.get("type") == "missing":
        detail = f"this request needs a JSON body; {SEND_JSON}"
        return problem(422, _validation_code(request), "Invalid request", detail, field="body")
    if isinstance(first.get("input"), bytes):  # FastAPI parses JSON only when the header says so
        content_type = request.headers.get("content-type") or "none"
        detail = f"{SEND_JSON} (the request said Content-Type: {content_type})"
        return problem(415, "unsupported_media_type", "Unsupported media type", detail, field="body")
    if first.get("type") in ("model_attributes_type", "dict_type", "model_type"):
        detail = "the body must be a JSON object ({...})"
        return problem(422, _validation_code(request), "Invalid request", detail, field="body")
    return None


def domain_problem(exc: errors.CouponryError, validation_code: str) -> JSONResponse:
    """A domain error's answer; plain bad input carries the route's `validation_code`, as schema errors."""
    code = validation_code if exc.code == errors.InvalidInput.code else exc.code
    return problem(status_of(exc), code, exc.title, exc.detail, **dict(exc.extra))


def internal_error() -> JSONResponse:
    return problem(500, "internal_error", "Internal error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.CouponryError)
    async def domain_error(request: Request, exc: errors.CouponryError) -> JSONResponse:
        return domain_problem(exc, _validation_code(request))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        unreadable = _unreadable_body(request, exc)
        if unreadable is not None:
            return unreadable
        issues = [
            {
                "field": _field(tuple(e["loc"])),
                "message": e["msg"].removeprefix("Value error, "),
                "type": e["type"],
            }
            for e in exc.errors()
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
        if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:  # FastAPI's words for json.loads failing
            detail = "the body could not be read as JSON (nested too deep, or not UTF-8?)"
            return problem(422, _validation_code(request), "Invalid request", detail, field="body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return internal_error()


def validation_code(code: str):  # noqa: ANN201
    """Mark a route whose malformed input is refused with a specific code (e.g. invalid_campaign)."""

    def mark(endpoint):  # noqa: ANN001, ANN202
        endpoint.validation_code = code
        return endpoint

    return mark
