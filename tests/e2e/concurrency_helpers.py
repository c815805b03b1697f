"""Firing many HTTP requests at once at a multi-process server, and reading the database behind it.

`concurrently` starts its threads, lets each open its own httpx.Client (so no two requests share a
connection), waits on a barrier until every thread is ready, and only then lets them take requests from a
shared queue: the requests really race, and the server's worker processes really contend for the same rows.
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, create_engine, text

from couponry.adapters.db.campaign_usage import CampaignUsage, count_coupon_usage, count_usage
from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.limit_slots import usage_of
from tests.serving import Server

Call = Callable[[httpx.Client], httpx.Response]


def concurrently(server: Server, key: str, calls: Sequence[Call], threads: int = 64) -> list[httpx.Response]:
    """Run every call from `threads` threads at once; the answers come back in the calls' order."""
    threads = max(1, min(threads, len(calls)))
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(calls)):
        work.put(index)
    answers: list[httpx.Response | None] = [None] * len(calls)
    failures: list[BaseException] = []
    ready = threading.Barrier(threads)

    def worker() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with server.client(key, limits=limits) as client:
            client.get("/healthz")  # open the connection before the race starts
            ready.wait()
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    answers[index] = calls[index](client)
                except BaseException as exc:  # noqa: BLE001 - reported below, with the others
                    failures.append(exc)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(300)
    if failures:
        raise AssertionError(f"{len(failures)} requests got no answer, e.g. {failures[0]!r}") from failures[0]
    missing = [i for i, answer in enumerate(answers) if answer is None]
    assert not missing, f"{len(missing)} requests got no answer"
    return answers  # type: ignore[return-value]


def statuses(answers: Sequence[httpx.Response]) -> Counter[int]:
    return Counter(answer.status_code for answer in answers)


def refusal_reasons(answers: Sequence[httpx.Response]) -> Counter[tuple[str, str]]:
    """Counts of (problem code, reasons of the refused codes) over every answer that is not a success."""
    seen: Counter[tuple[str, str]] = Counter()
    for answer in answers:
        if answer.status_code < 300:
            continue
        body = answer.json()
        reasons = [c.get("reason", "") for c in body.get("codes", []) if not c.get("valid", True)]
        seen[(body.get("code", f"http {answer.status_code}"), ",".join(reasons))] += 1
    return seen


def unique(prefix: str) -> str:
    """A name or code no other test in the shared database uses."""
    return f"{prefix}{secrets.token_hex(4).upper()}"


def cart(unit_price: int = 2000) -> dict[str, Any]:
    return {
        "currency": "USD",
        "channel": "online",
        "shipping": 0,
        "lines": [
            {
                "id": "1",
                "product_id": "p1",
                "category": "c",
                "brand": "b",
                "store_id": "s1",
                "unit_price": unit_price,
                "quantity": 1,
                "on_sale": False,
            }
        ],
    }


def create_campaign(admin: httpx.Client, amount: int, **limits: int) -> dict[str, Any]:
    answer = admin.post(
        "/v1/campaigns",
        json={
            "name": unique("Concurrency "),
            "currency": "USD",
            "discount": {"type": "amount", "amount": amount},
            "limits": limits,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def issue_code(admin: httpx.Client, campaign_id: str, customer_id: str | None = None) -> str:
    code = unique("CONC")
    body: dict[str, Any] = {"codes": [code]}
    if customer_id:
        body["customer_id"] = customer_id
    answer = admin.post(f"/v1/campaigns/{campaign_id}/coupons", json=body)
    assert answer.status_code == 201, answer.text
    return code


def redemption(order_id: str, code: str, customer_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": order_id, "cart": cart(), "codes": [code]}
    if customer_id:
        body["customer_id"] = customer_id
    return body


def redeem(order_id: str, code: str, customer_id: str | None = None, key: str | None = None) -> Call:
    """POST /v1/redemptions; `key` is sent as the Idempotency-Key."""
    body = redemption(order_id, code, customer_id)
    headers = {"Idempotency-Key": key} if key else {}
    return lambda client: client.post("/v1/redemptions", json=body, headers=headers)


def reserve(order_id: str, code: str) -> Call:
    body = {"order_id": order_id, "cart": cart(), "codes": [code], "ttl_seconds": 600}
    return lambda client: client.post("/v1/reservations", json=body)


def confirm(order_id: str, reservation_id: str) -> Call:
    body = {"order_id": order_id, "reservation_id": reservation_id}
    return lambda client: client.post("/v1/redemptions", json=body)


def release(reservation_id: str) -> Call:
    return lambda client: client.delete(f"/v1/reservations/{reservation_id}")


def roll_back(redemption_id: str) -> Call:
    return lambda client: client.post(f"/v1/redemptions/{redemption_id}/rollback", json={"reason": "refund"})


def coupon(admin: httpx.Client, code: str) -> dict[str, Any]:
    answer = admin.get(f"/v1/coupons/{code}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def campaign_stats(admin: httpx.Client, campaign_id: str) -> dict[str, Any]:
    answer = admin.get(f"/v1/campaigns/{campaign_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["stats"]


@dataclass(frozen=True)
class Ledger:
    """What the database itself holds for one code and its campaign, read by SQL rather than the API."""

    succeeded: int = 0  # redemption rows with status 'succeeded' that used the code
    coupon_redeemed: int = 0
    coupon_held: int = 0
    campaign_redeemed: int = 0
    campaign_held: int = 0
    budget_used: int = 0
    budget_held: int = 0


def ledger(database_url: str, code: str) -> Ledger:
    """Counters where they are kept (a campaign's slots, a coupon's row under a per-coupon limit), else
    counted from the records, as the API reads them; and the limit slots' shares are checked never to
    promise more than what is left of the limits."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            succeeded = conn.execute(
                text(
                    "SELECT count(*) FROM redemptions r JOIN redemption_codes rc ON rc.redemption_id = r.id "
                    "WHERE rc.code = :code AND r.status = 'succeeded'"
                ),
                {"code": code},
            ).scalar_one()
            row = conn.execute(
                text(
                    "SELECT c.redeemed_count, c.held_count, k.id, k.limit_slots, k.per_coupon, "
                    "k.max_redemptions, k.budget, k.status "
                    "FROM coupons c JOIN campaigns k ON k.id = c.campaign_id WHERE c.code = :code"
                ),
                {"code": code},
            ).one()
            if row.per_coupon is not None:
                coupon_redeemed, coupon_held = row.redeemed_count, row.held_count
            else:
                coupon_redeemed, coupon_held = count_coupon_usage(conn, row.id).get(code, (0, 0))
            if row.limit_slots:
                usage = usage_of(conn, [row.id])[row.id]
                check_shares(conn, row, usage)
            else:
                usage = count_usage(conn, [row.id])[row.id]
            return Ledger(
                succeeded=succeeded,
                coupon_redeemed=coupon_redeemed,
                coupon_held=coupon_held,
                campaign_redeemed=usage.redeemed_count,
                campaign_held=usage.held_count,
                budget_used=usage.budget_used,
                budget_held=usage.budget_held,
            )
    finally:
        engine.dispose()


def check_shares(conn: Connection, campaign: Any, usage: CampaignUsage) -> None:
    """The slots' shares add up to no more than what is left of each limit (none while inactive)."""
    slots = conn.execute(
        text("SELECT uses_left, budget_left FROM campaign_limit_slots WHERE campaign_id = :id"),
        {"id": campaign.id},
    ).all()
    assert len(slots) == campaign.limit_slots
    active = campaign.status == "active"
    if campaign.max_redemptions is None:
        assert all(s.uses_left is None for s in slots)
    else:
        left = campaign.max_redemptions - usage.redeemed_count - usage.held_count if active else 0
        assert all(s.uses_left >= 0 for s in slots)
        assert sum(s.uses_left for s in slots) <= max(left, 0)
    if campaign.budget is None:
        assert all(s.budget_left is None for s in slots)
    else:
        left = campaign.budget - usage.budget_used - usage.budget_held if active else 0
        assert all(s.budget_left >= 0 for s in slots)
        assert sum(s.budget_left for s in slots) <= max(left, 0)


def customer_uses(database_url: str, campaign_id: str, customer_id: str) -> tuple[int, int]:
    """(redeemed, held) of one customer's use of a campaign, as its per-customer limit counts them."""
    row = fetch_one(
        database_url,
        "SELECT redeemed_count, held_count FROM customer_usage "
        "WHERE campaign_id = :campaign AND customer_id = :customer",
        {"campaign": campaign_id, "customer": customer_id},
    )
    return (row.redeemed_count, row.held_count) if row else (0, 0)


def fetch_one(database_url: str, sql: str, params: dict[str, Any]) -> Any:
    """The first row of one query on a connection of its own, or None."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).first()
    finally:
        engine.dispose()
