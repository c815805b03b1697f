"""Settlement and campaign stats reconcile to the cent with the per-line allocation after concurrent
redemptions, partial refunds and whole rollbacks, while stats requests fold the roll-ups from several
server processes at once (PostgreSQL, a four-process server, 32 client threads)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from couponry.adapters.db.engine import Database
from couponry.services.reporting.rollups import fold
from tests.conftest import POSTGRES_FOR_CONCURRENCY, _fresh_postgres_database, _worker
from tests.e2e.concurrency_helpers import Call, concurrently, statuses, unique
from tests.recount import recount, stored
from tests.serving import Server, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Server]:
    try:
        url = _fresh_postgres_database(POSTGRES_FOR_CONCURRENCY, f"couponry_measuring_{_worker()}")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    with running_server(url, workers=4, COUPONRY_DB_POOL_SIZE="5") as server:
        yield server


def _campaign(admin: httpx.Client, **spec: object) -> tuple[str, str]:
    body = {"name": "race", "currency": "USD", **spec}
    created = admin.post("/v1/campaigns", json=body).json()
    code = unique("R")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return created["id"], code


def _order(rng: random.Random, codes: list[str]) -> dict:
    lines = [
        {
            "id": str(n),
            "product_id": f"p{n}",
            "store_id": store,
            "unit_price": rng.choice([999, 1500, 4321]),
            "quantity": rng.randint(1, 3),
        }  # fmt: skip
        for n, store in enumerate(["s1", "s2", rng.choice(["s1", "s2"])])
    ]
    return {
        "order_id": unique("O"),
        "codes": codes,
        "cart": {"currency": "USD", "shipping": 500, "lines": lines},
    }


def _redeem(body: dict) -> Call:
    return lambda c: c.post("/v1/redemptions", json=body)


def _undo(redemption_id: str, rng: random.Random) -> Call:
    if rng.random() < 0.4:
        body: dict = {"reason": "cancelled"}
    else:
        body = {"reason": "refund", "lines": [{"id": str(rng.randint(0, 2)), "quantity": 1}]}
    return lambda c: c.post(f"/v1/redemptions/{redemption_id}/rollback", json=body)


def _per_line_owed(database_url: str) -> dict[str, int]:
    """What the platform owes each store, straight from the per-line allocation of live redemptions."""
    db = Database(database_url)
    try:
        with db.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT l.store_id, sum(l.discount - l.returned) FROM redemption_lines l "
                    "JOIN redemptions r ON r.id = l.redemption_id "
                    "WHERE r.status = 'succeeded' AND l.borne_by = 'platform' GROUP BY l.store_id"
                )
            ).all()
    finally:
        db.dispose()
    return {r[0]: int(r[1]) for r in rows if int(r[1])}


def test_settlement_and_stats_reconcile_after_concurrent_redemptions_and_rollbacks(pg_server: Server) -> None:
    rng = random.Random(11)
    key = create_key(pg_server.database_url, "admin")
    with pg_server.client(key) as admin:
        platform, platform_code = _campaign(
            admin, stacking="item", discount={"type": "percent", "percent": 15}
        )
        store, store_code = _campaign(
            admin, issuer={"type": "store", "store_id": "s1"}, discount={"type": "amount", "amount": 800}
        )
        # given 150 redemptions raced at once
        first = concurrently(
            pg_server,
            key,
            [_redeem(_order(rng, [platform_code, store_code])) for _ in range(150)],
            threads=32,
        )
        assert statuses(first) == {201: 150}
        ids = [a.json()["id"] for a in first]
        # when rollbacks and partial refunds race more redemptions and stats reads (which fold)
        calls: list[Call] = [_undo(rng.choice(ids), rng) for _ in range(80)]
        calls += [_redeem(_order(rng, [platform_code, store_code])) for _ in range(80)]
        calls += [lambda c, cid=cid: c.get(f"/v1/campaigns/{cid}/stats") for cid in (platform, store) * 15]
        rng.shuffle(calls)
        answers = concurrently(pg_server, key, calls, threads=32)
        assert all(a.status_code in (200, 201, 409, 422) for a in answers), statuses(answers)
        assert statuses(answers)[200] > 30  # the stats reads and most rollbacks

        # then settlement equals the per-line allocation to the cent
        owed = _per_line_owed(pg_server.database_url)
        assert set(owed) == {"s1", "s2"}
        settlement = admin.get("/v1/reports/settlement").json()
        assert {s["store_id"]: s["amount"] for s in settlement["stores"]} == owed
        # and each campaign's stats equal a recount from the raw rows
        db = Database(pg_server.database_url)
        try:
            truth_campaigns, _ = recount(db)
            totals: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
            for (campaign_id, _, _), m in truth_campaigns.items():
                for i, v in enumerate(m):
                    totals[campaign_id][i] += v
            for campaign_id in (platform, store):
                body = admin.get(f"/v1/campaigns/{campaign_id}/stats").json()
                redeemed, orders, revenue, cost_platform, cost_store = totals[campaign_id]
                assert (body["redeemed"], body["orders"], body["revenue"]) == (redeemed, orders, revenue)
                assert body["discount_cost"] == {
                    "platform": cost_platform,
                    "store": cost_store,
                    "total": cost_platform + cost_store,
                }
            # and the roll-ups themselves catch up with the recount once the writers are done (what the
            # scheduler's job does each minute; a read folds first only past 1,000 waiting facts)
            for _ in range(3):
                fold(db, "UTC", datetime.now(UTC))
            assert stored(db) == recount(db)
        finally:
            db.dispose()
