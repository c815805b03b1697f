"""Prometheus metrics: HTTP traffic by route template, redemptions and code refusals.

Several workers (`couponry serve --workers N`) each have their own memory, so in that case metrics go
through prometheus_client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR must be set *before*
prometheus_client is imported in the worker processes. The CLI therefore calls
`prepare_multiprocess_dir()` before starting uvicorn with several workers; uvicorn spawns fresh
interpreters that inherit the variable, and `metrics_response()` then sums every worker's files.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"

REQUESTS = Counter("couponry_http_requests", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "couponry_http_request_duration_seconds",
    "Time from receiving a request to finishing its response.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REDEMPTIONS = Counter(
    "couponry_redemptions", "Redemption attempts by outcome: succeeded, refused, rolled_back.", ["outcome"]
)
REFUSALS = Counter("couponry_code_refusals", "Codes refused, by reason code (e.g. expired).", ["reason"])


def route_template(scope: Scope) -> str:
    """The matched route's template ("/v1/campaigns/{campaign_id}"); bounded cardinality, no ids."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


# the labelled children, looked up once each: `labels()` takes a lock and builds tuples every call
_latency: dict[tuple[str, str], Any] = {}
_requests: dict[tuple[str, str, int], Any] = {}


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request and its latency under its route template (read after the app ran,
    once routing filled the scope)."""
    method, route = scope["method"], route_template(scope)
    latency = _latency.get((method, route))
    if latency is None:
        latency = _latency[method, route] = LATENCY.labels(method, route)
    latency.observe(seconds)
    counter = _requests.get((method, route, status))
    if counter is None:
        counter = _requests[method, route, status] = REQUESTS.labels(method, route, str(status))
    counter.inc()


def metrics_response() -> tuple[bytes, str]:
    """The exposition body and its content type: every worker's metrics in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir() -> str:
    """Create a fresh directory for the workers' metric files, export it as PROMETHEUS_MULTIPROC_DIR
    and remove it when this (supervising) process exits. Call it before the workers start."""
    path = tempfile.mkdtemp(prefix="couponry-metrics-")
    os.environ[MULTIPROC_ENV] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def mark_process_dead(pid: int) -> None:
    """Tell multiprocess mode that worker `pid` is gone (drops its live gauges); no-op otherwise."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
