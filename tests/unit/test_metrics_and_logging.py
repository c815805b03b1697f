"""Requests are counted per route template, carry a request id and leave one JSON access line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from couponry.api.logging import JsonFormatter, configure_logging, request_id_var
from couponry.api.metrics import metrics_response, prepare_multiprocess_dir
from couponry.api.middleware import EdgeMiddleware

TEMPLATE = "/v1/things/{thing_id}"


def _build_app() -> FastAPI:
    app = FastAPI()

    @app.get(TEMPLATE)
    def get_thing(thing_id: str) -> dict[str, str]:
        logging.getLogger("couponry.test").info("serving", extra={"thing_id": thing_id})
        return {"id": thing_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    app.add_middleware(EdgeMiddleware)
    return app


class Client:
    """A synchronous face on httpx's ASGI transport (starlette's TestClient warns about httpx)."""

    def __init__(self, app: FastAPI) -> None:
        self.transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://test") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(call())


@pytest.fixture
def client() -> Client:
    return Client(_build_app())


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Captures what the JSON formatter writes for couponry loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("couponry")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _requests(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("couponry_http_requests_total", labels) or 0.0


def test_requests_are_counted_under_their_route_template_not_their_path(client: Client) -> None:
    before = _requests(TEMPLATE, "200")

    client.get("/v1/things/abc")
    client.get("/v1/things/xyz")

    assert _requests(TEMPLATE, "200") == before + 2
    assert _requests("/v1/things/abc", "200") == 0.0
    latency = {"method": "GET", "route": TEMPLATE}
    assert (REGISTRY.get_sample_value("couponry_http_request_duration_seconds_count", latency) or 0) >= 2


def test_requests_that_match_no_route_are_counted_as_unmatched(client: Client) -> None:
    before = _requests("unmatched", "404")

    client.get("/nowhere/at/all")

    assert _requests("unmatched", "404") == before + 1


def test_an_unhandled_error_is_counted_as_a_500(client: Client) -> None:
    before = _requests("/boom", "500")

    assert client.get("/boom").status_code == 500

    assert _requests("/boom", "500") == before + 1


def test_the_metrics_response_renders_the_counters_in_prometheus_text(client: Client) -> None:
    client.get("/v1/things/abc")

    body, content_type = metrics_response()

    assert content_type.startswith("text/plain")
    assert b'couponry_http_requests_total{method="GET",route="/v1/things/{thing_id}",status="200"}' in body


def test_a_callers_request_id_is_echoed_and_a_missing_one_is_made(client: Client) -> None:
    assert (
        client.get("/v1/things/a", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    )

    made = client.get("/v1/things/a").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0


def test_a_request_id_that_could_forge_log_lines_is_replaced(client: Client) -> None:
    response = client.get("/v1/things/a", headers={"X-Request-ID": 'x" "level": "CRITICAL'})

    assert response.headers["X-Request-ID"] != 'x" "level": "CRITICAL'
    assert len(response.headers["X-Request-ID"]) == 32


def test_each_request_leaves_one_json_access_line_with_its_request_id(
    client: Client, json_lines: io.StringIO
) -> None:
    client.get("/v1/things/abc", headers={"X-Request-ID": "req-42"})

    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (access,) = [e for e in entries if e["logger"] == "couponry.access"]
    assert access["request_id"] == "req-42"
    assert access["level"] == "INFO"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/v1/things/abc", 200)
    assert isinstance(access["duration_ms"], float)
    # and what the app itself logs during the request carries the same id and its extra fields
    (app_line,) = [e for e in entries if e["logger"] == "couponry.test"]
    assert (app_line["request_id"], app_line["thing_id"], app_line["message"]) == ("req-42", "abc", "serving")
    assert request_id_var.get() is None


def test_an_unhandled_error_leaves_an_error_access_line(client: Client, json_lines: io.StringIO) -> None:
    client.get("/boom")

    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (access,) = [e for e in entries if e["logger"] == "couponry.access"]
    assert (access["level"], access["status"]) == ("ERROR", 500)
    assert "RuntimeError" in access["error"]


def test_configure_logging_installs_one_json_handler_however_often_it_is_called(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("debug")
        configure_logging("info")
        logging.getLogger("couponry.test").warning("hello", extra={"order_id": "o1"})
        lines = capsys.readouterr().err.splitlines()
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)

    (line,) = [json.loads(x) for x in lines if '"couponry.test"' in x]
    assert line["level"] == "WARNING" and line["order_id"] == "o1" and line["request_id"] is None
    assert set(line) >= {"ts", "level", "logger", "message", "request_id"}


def test_in_multiprocess_mode_the_metrics_of_every_worker_are_summed(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a fresh directory, exported before the "workers" import prometheus_client
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    path = prepare_multiprocess_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path and os.listdir(path) == []

    # when: two worker processes each record a redemption
    worker = "from couponry.api.metrics import REDEMPTIONS; REDEMPTIONS.labels('succeeded').inc()"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], check=True, env=os.environ.copy())

    # then: the metrics endpoint of any process reports both
    render = "from couponry.api.metrics import metrics_response; print(metrics_response()[0].decode())"
    out = subprocess.run([sys.executable, "-c", render], check=True, capture_output=True, text=True).stdout
    assert 'couponry_redemptions_total{outcome="succeeded"} 2.0' in out
