"""The one middleware every request passes: its id, its metrics, its access line and the headers every
answer carries. Pure ASGI and one layer (each middleware layer and BaseHTTPMiddleware's call_next
cost CPU on every request, which is the figure that limits throughput here).

- Request id: the caller's X-Request-ID if short and plain, else 32 new random hex digits; kept in
  `request_id_var` while the app runs (every log line carries it) and echoed in the answer.
- Metrics: requests and latency per route template (bounded cardinality: no ids, no codes).
- Access log: one JSON line per request on "couponry.access" (INFO; ERROR when the app raised), built
  only when that level is enabled. Coupon codes in paths are masked (`/v1/coupons/***`).
- Headers: `X-Content-Type-Options: nosniff` on every answer, `Cache-Control: no-store` on API answers
  (/v1: they carry codes, discounts and customers' data that no cache may keep).
"""

from __future__ import annotations

import logging
import re
import time
from random import getrandbits
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from couponry.api.logging import request_id_var
from couponry.api.metrics import observe_request

access_log = logging.getLogger("couponry.access")

HEADER = "X-Request-ID"
_HEADER_RAW = HEADER.lower().encode()
# a caller's id is kept only if it is short and plain: it is echoed in a header and written to logs
_ACCEPTABLE_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_API_PREFIX = "/v1/"
_CODES_PREFIX = "/v1/coupons/"
MASK = "***"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _HEADER_RAW:
            return value.decode("latin-1") if _ACCEPTABLE_ID.fullmatch(value) else None
    return None


def logged_path(scope: Scope) -> str:
    """The path as the access log shows it: a coupon code (the `{code}` of a route, or anything under
    /v1/coupons/ that matched no route) is replaced by ***, other path parameters are kept."""
    path: str = scope["path"]
    params = scope.get("path_params")
    if params and "code" in params:
        template: str = getattr(scope.get("route"), "path", "")
        shown = {**params, "code": MASK}
        try:
            return template.format(**shown) if template else _CODES_PREFIX + MASK
        except (KeyError, IndexError, ValueError):  # a template with converters ({id:int})
            return re.sub(r"\{code(:[^}]*)?\}", MASK, template)
    if path.startswith(_CODES_PREFIX) and scope.get("route") is None:
        return _CODES_PREFIX + MASK
    return path


PASSED = "couponry.edge"  # in the scope of a request that passed the edge once


class EdgeMiddleware:
    """Request id, metrics, access log and security headers, in one pure-ASGI layer. It wraps both the
    app and the hot routes' fast path (api.fast_path), which hands what it does not answer to the app:
    a request passes it once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or PASSED in scope:
            await self.app(scope, receive, send)
            return
        scope[PASSED] = True
        start = time.perf_counter()
        # a new id: 32 random hex digits, as uuid4().hex gives but several times cheaper and without a
        # system call (an id names a request in logs; it guards nothing, so it need not be unguessable)
        request_id = _incoming_request_id(scope) or f"{getrandbits(128):032x}"
        token = request_id_var.set(request_id)
        extra = [(_HEADER_RAW, request_id.encode("latin-1")), _NOSNIFF]
        if scope["path"].startswith(_API_PREFIX):
            extra.append(_NO_STORE)
        status = 500  # what the client sees if the app raises before starting a response

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                message["headers"] = [*headers, *extra] if headers is not None else extra
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_headers)
        except BaseException as exc:
            error = exc
            raise
        finally:
            elapsed = time.perf_counter() - start
            observe_request(scope, status, elapsed)
            level = logging.INFO if error is None else logging.ERROR
            if access_log.isEnabledFor(level):
                _log_access(scope, status, elapsed, error, level)
            request_id_var.reset(token)


def _log_access(scope: Scope, status: int, elapsed: float, error: BaseException | None, level: int) -> None:
    path = logged_path(scope)
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
    }
    if error is not None:
        fields["error"] = repr(error)
    access_log.log(level, "%s %s %s", scope["method"], path, status, extra=fields)
