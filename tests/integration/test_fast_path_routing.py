"""Which requests the hot routes' fast path (api.fast_path) answers itself and which it hands to the app:
counted in process, on the app as `couponry serve` builds it (both databases)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from couponry.adapters.db.engine import Database
from couponry.api.app import create_app
from couponry.api.fast_path import FastPath
from couponry.services.access.keys import create_key
from couponry.services.ids import utcnow
from couponry.settings import Settings

CART = {"currency": "USD", "lines": [{"id": "a", "unit_price": 1000, "quantity": 1}]}
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def handed_over(db_url: str, scenario: Scenario) -> dict[str, list[str]]:
    """Run `scenario` with an admin client of the app (started and stopped around it); returns, per hot
    route, the requests its fast path handed to the app, and under "entered" every path it was offered."""
    app = create_app(Settings(database_url=db_url, run_background_workers=False))
    seen: dict[str, list[str]] = {"entered": []}
    for path, edge in app.fast_paths.items():
        fast: FastPath = edge.app  # type: ignore[attr-defined]
        seen[path] = []
        taken = fast.__call__

        async def entered(scope: Any, receive: Any, send: Any, taken: Any = taken) -> None:
            seen["entered"].append(scope["path"])
            await taken(scope, receive, send)

        edge.app = entered  # type: ignore[attr-defined]

        async def counted(scope: Any, receive: Any, send: Any, regular: Any = fast.regular) -> None:
            seen[scope["path"]].append(scope["method"])
            await regular(scope, receive, send)

        fast.regular = counted
    db = Database(db_url)
    _, secret = create_key(db, role="admin", name="test", store_id=None, now=utcnow())
    db.dispose()

    async def run() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {secret}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
                await scenario(c)

    asyncio.run(run())
    return seen


def test_a_plain_validation_by_a_known_key_is_answered_by_the_fast_path(db_url: str) -> None:
    answers = []

    async def scenario(client: httpx.AsyncClient) -> None:
        discount = {"type": "amount", "amount": 10}
        made = await client.post(
            "/v1/campaigns", json={"name": "Ten", "currency": "USD", "discount": discount}
        )
        await client.post(f"/v1/campaigns/{made.json()['id']}/coupons", json={"codes": ["FASTPATH10"]})
        for _ in range(2):
            answers.append(await client.post("/v1/validations", json={"cart": CART, "codes": ["FASTPATH10"]}))

    seen = handed_over(db_url, scenario)

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json() and answers[1].json()["discount"] == 10
    # the key was resolved by the campaign requests before: neither validation needed the framework
    assert seen["entered"] == ["/v1/validations", "/v1/validations"]
    assert seen["/v1/validations"] == []


def test_what_is_not_the_common_case_is_handed_to_the_app(db_url: str) -> None:
    statuses = []

    async def scenario(client: httpx.AsyncClient) -> None:
        await client.get("/v1/campaigns")  # the key is resolved once
        json_type = {"Content-Type": "application/json"}
        for answer in (
            client.post("/v1/validations", content=b"{", headers=json_type),
            client.post("/v1/validations", json={"cart": CART, "codes": "X"}),
            client.post("/v1/validations", content=b"{}", headers={"Content-Type": "text/plain"}),
            client.post("/v1/redemptions", json={}, headers={"Authorization": "Bearer unknown"}),
            client.post(
                "/v1/redemptions",
                json={"order_id": "o1", "cart": CART, "codes": ["NOPE"]},
                headers={"Idempotency-Key": "k" * 201},
            ),
        ):
            statuses.append((await answer).status_code)

    seen = handed_over(db_url, scenario)

    assert statuses == [422, 422, 415, 401, 422]
    assert seen["entered"] == ["/v1/validations"] * 3 + ["/v1/redemptions"] * 2
    assert seen["/v1/validations"] == ["POST", "POST", "POST"]
    assert seen["/v1/redemptions"] == ["POST", "POST"]
