"""Small builders for request bodies, so each test shows only what matters to it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def unique(prefix: str = "C") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def line(line_id: str = "1", unit_price: int = 2000, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": line_id,
        "product_id": extra.pop("product_id", f"p{line_id}"),
        "category": extra.pop("category", "shoes"),
        "brand": extra.pop("brand", "acme"),
        "store_id": extra.pop("store_id", "s1"),
        "unit_price": unit_price,
        "quantity": quantity,
        "on_sale": extra.pop("on_sale", False),
        **extra,
    }


def cart(*lines: dict[str, Any], shipping: int = 500, **extra: Any) -> dict[str, Any]:
    return {
        "currency": "USD",
        "channel": "online",
        "shipping": shipping,
        "lines": list(lines) or [line()],
        **extra,
    }


def campaign(client: httpx.Client, **spec: Any) -> dict[str, Any]:
    body = {"name": spec.pop("name", "test campaign"), "currency": "USD", **spec}
    body.setdefault("discount", {"type": "amount", "amount": 1000})
    response = client.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def campaign_with_code(client: httpx.Client, **spec: Any) -> tuple[dict[str, Any], str]:
    created = campaign(client, **spec)
    code = unique()
    response = client.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]})
    assert response.status_code == 201, response.text
    return created, code


def redeem(client: httpx.Client, code: str, **extra: Any) -> httpx.Response:
    body = {
        "order_id": extra.pop("order_id", unique("O")),
        "cart": extra.pop("cart", cart()),
        "codes": [code],
    }
    body.update(extra)
    return client.post("/v1/redemptions", json=body)


# the scheduler's bookkeeping, and the roll-ups its measuring.fold job keeps (a minute may pass mid-test)
# What the server's background workers write, never a request: the scheduler's runs and roll-ups, and
# the webhook deliveries the outbox's dispatcher fans an event out to (a request writes the event)
BACKGROUND_TABLES = {
    "scheduled_runs",
    "measure_watermark",
    "campaign_daily",
    "store_daily",
    "webhook_deliveries",
}


def database_fingerprint(database_url: str) -> dict[str, tuple[Any, ...]]:
    """Row counts and counter sums of every table: equal before and after means nothing was written."""
    from sqlalchemy import create_engine, func, select

    from couponry.adapters.db.engine import normalize_url
    from couponry.adapters.db.tables import metadata

    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            fingerprint = {}
            for table in metadata.sorted_tables:
                if table.name in BACKGROUND_TABLES:
                    continue
                sums = [
                    func.coalesce(func.sum(c), 0)
                    for c in table.c
                    if c.name.endswith(("_count", "_used", "_held"))
                ]
                fingerprint[table.name] = tuple(
                    conn.execute(select(func.count(), *sums).select_from(table)).one()
                )
            return fingerprint
    finally:
        engine.dispose()
