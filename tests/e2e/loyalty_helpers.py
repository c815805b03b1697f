"""Small steps of the loyalty tests over HTTP: a program, members, orders, the ledger and its sums."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.builders import unique

PROGRAM = {"earn_points": 1, "per_amount": 1000, "point_value": 1, "pending_days": 30, "expiry_days": 365}


def program(admin: httpx.Client, **changes: Any) -> dict[str, Any]:
    response = admin.put("/v1/loyalty/program", json={**PROGRAM, **changes})
    assert response.status_code == 200, response.text
    return response.json()


def member(admin: httpx.Client, **profile: Any) -> str:
    customer = unique("m")
    assert admin.put(f"/v1/customers/{customer}", json=profile).status_code == 201
    response = admin.post(f"/v1/customers/{customer}/loyalty")
    assert response.status_code == 201, response.text
    return customer


def order(admin: httpx.Client, customer: str, at: datetime, amount: int | None = None, **body: Any) -> str:
    order_id = body.pop("order_id", unique("O"))
    payload = {"type": "order.completed", "customer_id": customer, "order_id": order_id, "currency": "USD",
               "occurred_at": at.isoformat(), **body}  # fmt: skip
    if amount is not None:
        payload["amount"] = amount
    response = admin.post("/v1/events", json=payload)
    assert response.status_code == 202, response.text
    return order_id


def refund(admin: httpx.Client, customer: str, order_id: str, amount: int | None = None) -> None:
    payload: dict[str, Any] = {"type": "order.refunded", "customer_id": customer, "order_id": order_id}
    if amount is not None:
        payload["amount"] = amount
    response = admin.post("/v1/events", json=payload)
    assert response.status_code == 202, response.text


def points(client: httpx.Client, customer: str) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{customer}/points")
    assert response.status_code == 200, response.text
    return response.json()


def ledger(client: httpx.Client, customer: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = client.get(f"/v1/customers/{customer}/points/ledger", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def balances(client: httpx.Client, customer: str) -> tuple[int, int, int]:
    body = points(client, customer)
    return body["pending"], body["available"], body["lifetime"]


def ledger_sums(client: httpx.Client, customer: str) -> tuple[int, int, int]:
    entries = ledger(client, customer)
    return (
        sum(e["pending_change"] for e in entries),
        sum(e["available_change"] for e in entries),
        sum(e["lifetime_change"] for e in entries),
    )


def assert_balances_are_the_ledger_sums(client: httpx.Client, customer: str) -> None:
    assert balances(client, customer) == ledger_sums(client, customer)


def some_future_time() -> datetime:
    """A random moment years ahead, so the scheduled jobs ticked at it (once per period) are this
    test's own."""
    base = datetime(2040, 1, 1, 10, 0, tzinfo=UTC)
    return base + timedelta(days=random.randrange(0, 200 * 365), minutes=random.randrange(0, 60 * 8))
