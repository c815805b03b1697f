"""Two server processes on PostgreSQL receiving the same order.completed event at once reward once; many
distinct orders at once reward exactly up to the trigger's per-customer cap, and the database agrees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import coupons, trigger_rewards
from tests.serving import Server, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _deliver_at_once(server: Server, key: str, bodies: list[dict[str, object]]) -> list[int]:
    def send(body: dict[str, object]) -> int:
        with server.client(key) as client:  # a connection each: requests spread over both processes
            return client.post("/v1/events", json=body).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _count(url: str, table, **where: str) -> int:  # noqa: ANN001
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for name, value in where.items():
                query = query.where(table.c[name] == value)
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


def test_the_same_order_event_delivered_to_two_processes_at_once_rewards_once(postgres_url: str) -> None:
    with running_server(postgres_url, workers=2) as server:
        key = create_key(postgres_url, "admin")
        with server.client(key) as admin:
            reward = admin.post(
                "/v1/campaigns",
                json={"name": "thanks", "currency": "USD", "discount": {"type": "amount", "amount": 500}},
            ).json()
            created = admin.post(
                "/v1/triggers",
                json={"event": "order.completed", "campaign_ids": [reward["id"]], "per_customer": 3},
            )
            assert created.status_code == 201, created.text
        # when one order event is delivered 16 times at once, and 16 distinct orders of another customer
        same = {"type": "order.completed", "customer_id": "once", "order_id": "o-same", "amount": 900}
        assert set(_deliver_at_once(server, key, [same] * 16)) == {202}
        distinct = [
            {"type": "order.completed", "customer_id": "capped", "order_id": f"o-{n}", "amount": 900}
            for n in range(16)
        ]
        assert set(_deliver_at_once(server, key, distinct)) == {202}
    # then the first customer was rewarded once and the second exactly three times (the cap)
    assert _count(postgres_url, coupons, customer_id="once") == 1
    assert _count(postgres_url, trigger_rewards, customer_id="once") == 1
    assert _count(postgres_url, coupons, customer_id="capped") == 3
    assert _count(postgres_url, trigger_rewards, customer_id="capped") == 3
