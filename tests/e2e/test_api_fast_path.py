"""The hot routes' fast path (api.fast_path) answers in front of the framework: its answers must carry
what every answer carries (edge headers, metrics, one access line) and its refusals must be the declared
endpoint's, and whatever it does not take must reach the declared endpoint once, body intact."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign_with_code, cart, line, unique

JSON = {"Content-Type": "application/json"}
# JSON to FastAPI but not to the fast path, which takes only `application/json`: the declared endpoint
DECLARED = {"Content-Type": "application/vnd.test+json"}


def _body(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _requests_counted(admin: httpx.Client, route: str, status: str) -> float:
    wanted = f'couponry_http_requests_total{{method="POST",route="{route}",status="{status}"}}'
    for text_line in admin.get("/metrics").text.splitlines():
        if text_line.startswith(wanted):
            return float(text_line.rsplit(" ", 1)[1])
    return 0.0


def test_a_fast_path_answer_carries_the_edge_headers_once_and_is_counted_under_its_route(
    admin: httpx.Client,
) -> None:
    _, code = campaign_with_code(admin, discount={"type": "amount", "amount": 100})
    before = _requests_counted(admin, "/v1/validations", "200")
    body = {"cart": cart(line("a", 1000)), "codes": [code]}

    answer = admin.post(
        "/v1/validations", content=_body(body), headers={**JSON, "X-Request-ID": "fast-path-42"}
    )

    assert answer.status_code == 200 and answer.json()["discount"] == 100
    assert answer.headers.get_list("x-request-id") == ["fast-path-42"]
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers.get_list("cache-control") == ["no-store"]
    assert answer.headers["content-type"] == "application/json"
    assert _requests_counted(admin, "/v1/validations", "200") == before + 1


def test_a_refused_redemption_is_the_same_problem_through_the_fast_path_and_the_declared_endpoint(
    admin: httpx.Client,
) -> None:
    _, code = campaign_with_code(admin, discount={"type": "percent", "percent": 10}, limits={"per_coupon": 1})
    first = {"order_id": f"o-{unique()}", "cart": cart(line("a", 1005)), "codes": [code]}
    assert admin.post("/v1/redemptions", content=_body(first), headers=JSON).status_code == 201

    answers = []
    for headers in (JSON, DECLARED):
        again = {"order_id": f"o-{unique()}", "cart": cart(line("a", 1005)), "codes": [code, "NO-SUCH"]}
        answers.append(admin.post("/v1/redemptions", content=_body(again), headers=headers))

    assert [a.status_code for a in answers] == [409, 409]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    fast, declared = (a.json() for a in answers)
    assert fast == declared
    assert [c.get("reason") for c in fast["codes"]] == ["coupon_used_up", "unknown_code"]


def test_a_malformed_body_read_by_the_fast_path_is_explained_by_the_declared_endpoint(
    admin: httpx.Client,
) -> None:
    answer = admin.post("/v1/validations", content=b'{"cart": {"currency": "USD", "lines": [}', headers=JSON)

    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "invalid_request" and problem["field"] == "body"
    assert "not valid JSON" in problem["detail"] and "line 1 column" in problem["detail"]
    assert answer.headers.get_list("x-request-id") and len(answer.headers.get_list("x-request-id")) == 1


def test_a_body_streamed_without_a_length_goes_to_the_declared_endpoint_whole(admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin, discount={"type": "amount", "amount": 250})
    raw = _body({"cart": cart(line("a", 1000), line("b", 500)), "codes": [code]})

    def chunks() -> Any:  # no Content-Length: sent chunked
        yield raw[:10]
        yield raw[10:]

    answer = admin.post("/v1/validations", content=chunks(), headers=JSON)

    assert answer.status_code == 200
    assert answer.json()["discount"] == 250
    assert len(answer.headers.get_list("x-request-id")) == 1


def test_an_unknown_key_is_refused_by_the_declared_endpoint_before_the_body(server: Any) -> None:
    with httpx.Client(base_url=server.base, headers={"Authorization": "Bearer nope"}) as stranger:
        answer = stranger.post("/v1/validations", content=b'{"cart": 1}', headers=JSON)

    assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"


def test_an_order_event_is_taken_alike_by_the_fast_path_and_the_declared_endpoint(
    admin: httpx.Client,
) -> None:
    customer = f"c-{unique()}"
    before = _requests_counted(admin, "/v1/events", "202")
    answers = []
    for n, headers in enumerate((JSON, DECLARED, JSON)):
        order = {"type": "order.completed", "customer_id": customer, "order_id": f"{customer}-o{n % 2}",
                 "amount": 1000, "currency": "USD"}  # fmt: skip
        answers.append(admin.post("/v1/events", content=_body(order), headers=headers))

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert all(a.headers["content-type"] == "application/json" for a in answers)
    assert [a.json()["duplicate"] for a in answers] == [False, False, True]
    assert answers[0].json() == {**answers[2].json(), "duplicate": False}
    assert _requests_counted(admin, "/v1/events", "202") == before + 3
    profile = admin.get(f"/v1/customers/{customer}").json()
    assert (profile["order_count"], profile["total_spent"]) == (2, 2000)


def test_a_key_that_may_not_send_events_is_refused_alike_by_both_ways(server: Any) -> None:
    from tests.e2e.keys import make_key

    pos = make_key(server.database_url, "pos")
    event = {"type": "order.completed", "customer_id": "c1", "order_id": f"o-{unique()}", "amount": 1}
    with server.client(pos) as till:
        till.post("/v1/validations", json={"cart": cart(line("a", 1)), "codes": []})  # the key, known now
        answers = [till.post("/v1/events", content=_body(event), headers=h) for h in (JSON, DECLARED)]

    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["code"] == "forbidden"


def test_a_redemption_waiting_for_sqlites_write_lock_waits_on_a_thread_not_on_the_loop(
    server: Any, admin: httpx.Client
) -> None:
    """SQLite: the fast path redeems on the event loop only when the write lock is free at once; held
    by another writer (another process, say), the redemption waits for it on a request thread while the
    server keeps answering."""
    if not server.database_url.startswith("sqlite"):
        pytest.skip("SQLite's one write lock")
    _, code = campaign_with_code(admin, discount={"type": "amount", "amount": 100})
    order = {"order_id": f"o-{unique()}", "cart": cart(line("a", 1000)), "codes": [code]}
    other = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(admin.post, "/v1/redemptions", content=_body(order), headers=JSON)
            time.sleep(0.3)
            assert not pending.done()  # waiting for the lock ...
            started = time.monotonic()
            assert admin.get("/healthz").status_code == 200  # ... without holding up the server
            assert time.monotonic() - started < 2  # a blocked loop would answer after the 30 s busy wait
            other.rollback()
            answer = pending.result(timeout=10)
    finally:
        other.close()
    assert answer.status_code == 201 and answer.json()["discount"] == 100
