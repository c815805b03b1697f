"""Structured logs: one JSON object per line on stderr, each carrying the request's id.

`api.middleware.EdgeMiddleware` keeps each request's id in `request_id_var` while the request runs
and writes one access line per request on the "couponry.access" logger. Run uvicorn with
`access_log=False` (its own access lines would duplicate ours) and `log_config=None` (so it does not
replace these handlers).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
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
        return orjson.dumps(entry, default=str).decode()


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
