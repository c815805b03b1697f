"""What every answer says about itself and what the server gives away (issue #10, item 8), through the
real server: security headers, no server banner, codes kept out of access logs, metrics behind a key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign_with_code, cart, unique
from tests.serving import Server, create_key, running_server

_lines: list[str] = []  # the module's server's stderr, line by line


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    """One server at log level INFO (so access lines are written), its stderr read as it comes."""
    _lines.clear()
    with running_server(module_db_url, COUPONRY_LOG_LEVEL="INFO") as srv:
        reader = threading.Thread(target=_collect, args=(srv,), daemon=True)
        reader.start()
        yield srv


@pytest.fixture
def logged(server: Server) -> list[str]:
    """The server's stderr lines so far (JSON log lines at INFO)."""
    return _lines


def _collect(srv: Server) -> None:
    try:
        for raw in srv.process.stderr:  # type: ignore[union-attr]
            _lines.append(raw.decode(errors="replace"))
    except (ValueError, OSError):  # the pipe was closed as the server stopped
        pass


def _access_lines(logged: list[str]) -> list[dict[str, Any]]:
    entries = []
    for line in list(logged):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "couponry.access":
            entries.append(entry)
    return entries


def _answers(server: Server, admin_key: str) -> dict[str, httpx.Response]:
    with server.client(admin_key) as admin, server.client(None) as anonymous:
        _, code = campaign_with_code(admin)
        return {
            "validation": admin.post("/v1/validations", json={"cart": cart(), "codes": [code]}),
            "coupon": admin.get(f"/v1/coupons/{code}"),
            "invalid": admin.post("/v1/validations", json={"cart": cart(), "codes": []}),
            "unknown route": admin.get("/v1/nowhere"),
            "no key": anonymous.post("/v1/validations", json={"cart": cart(), "codes": [code]}),
            "health": anonymous.get("/healthz"),
            "openapi": anonymous.get("/openapi.json"),
        }


def test_every_answer_tells_browsers_not_to_sniff_its_type(server: Server, admin_key: str) -> None:
    answers = _answers(server, admin_key)

    assert {name: a.status_code for name, a in answers.items()} == {
        "validation": 200,
        "coupon": 200,
        "invalid": 422,
        "unknown route": 404,
        "no key": 401,
        "health": 200,
        "openapi": 200,
    }
    assert all(a.headers.get("x-content-type-options") == "nosniff" for a in answers.values())


def test_api_answers_may_not_be_stored_by_any_cache(server: Server, admin_key: str) -> None:
    answers = _answers(server, admin_key)

    for name in ("validation", "coupon", "invalid", "unknown route", "no key"):
        assert answers[name].headers.get("cache-control") == "no-store", name


def test_the_server_does_not_announce_what_software_it_runs(server: Server, admin_key: str) -> None:
    answers = _answers(server, admin_key)

    assert all("server" not in a.headers for a in answers.values())


def test_coupon_codes_in_paths_are_masked_in_access_lines(
    server: Server, admin_key: str, logged: list[str]
) -> None:
    with server.client(admin_key) as admin:
        # given: a real code, and an unknown one
        _, code = campaign_with_code(admin)
        unknown = unique("NOPE")
        # when: both are looked up by path, and one is sent to a path that matches no route
        assert admin.get(f"/v1/coupons/{code}").status_code == 200
        assert admin.get(f"/v1/coupons/{unknown}").status_code == 404
        assert admin.get(f"/v1/coupons/{unknown}/extra").status_code == 404
        admin.get("/healthz", headers={"X-Request-ID": "after-the-codes"})
    # then: the three access lines name the route with the code masked, and no line holds a code
    _wait_for(lambda: any(e.get("request_id") == "after-the-codes" for e in _access_lines(logged)))
    coupon_lines = [e for e in _access_lines(logged) if e["path"].startswith("/v1/coupons/")]
    assert [(e["path"], e["status"]) for e in coupon_lines[-3:]] == [
        ("/v1/coupons/***", 200),
        ("/v1/coupons/***", 404),
        ("/v1/coupons/***", 404),
    ]
    everything = "".join(logged)
    assert code not in everything and unknown not in everything


def test_metrics_are_refused_without_an_admin_key(server: Server, admin_key: str) -> None:
    storefront = create_key(server.database_url, "storefront")

    assert httpx.get(server.base + "/metrics").status_code == 401
    with server.client(storefront) as shop, server.client(admin_key) as admin:
        assert shop.get("/metrics").status_code == 403
        answer = admin.get("/metrics")
    assert answer.status_code == 200
    assert "couponry_http_requests_total" in answer.text


def test_metrics_are_open_to_anyone_when_the_operator_says_so(module_db_url: str) -> None:
    with running_server(module_db_url, COUPONRY_METRICS_PUBLIC="true") as public:
        answer = httpx.get(public.base + "/metrics")

    assert answer.status_code == 200
    assert "couponry_http_requests_total" in answer.text


def _wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the access line did not come"
        time.sleep(0.05)
