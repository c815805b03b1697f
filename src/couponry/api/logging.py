"""Structured logs: one JSON object per line on stderr, each carrying the request's id.

`RequestIdMiddleware` takes the caller's X-Request-ID (or makes one), keeps it in `request_id_var`
for the duration of the request, echoes it in the response and writes one access line per request
on the "couponry.access" logger. Run uvicorn with `access_log=False` (its own access lines would
duplicate ours) and `log_config=None` (so it does not replace these handlers).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
access_log = logging.getLogger("couponry.access")

HEADER = "X-Request-ID"
# a caller's id is kept only if it is short and plain: it is echoed in a header and written to logs
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# attributes every LogRecord has; whatever else is on a record came from `extra=`
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler):
    """Marks the handler configure_logging installed, so calling it again replaces, not doubles, it."""


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON object per line, at `level` and above."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _ACCEPTABLE_ID.fullmatch(candidate) else None
    return None


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID or a new uuid4 hex), echoes it and logs
    one access line. Pure ASGI, so the context variable is visible to everything the app runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 2),
            }
            if error is not None:
                fields["error"] = repr(error)
            level = logging.ERROR if error is not None else logging.INFO
            access_log.log(level, "%s %s %s", fields["method"], fields["path"], status, extra=fields)
            request_id_var.reset(token)
