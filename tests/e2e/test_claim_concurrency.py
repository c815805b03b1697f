"""Claims under real concurrency: one PostgreSQL, a four-process server, 64 client threads.

The stock and the per-customer limit are taken by guarded writes in the database, so whichever process
serves whichever claim, a stock of N gives exactly N coupons; each test checks the answers against the
database's own rows (claims, coupons, the stock counter, the queued events).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from couponry.adapters.db.engine import normalize_url
from tests.conftest import POSTGRES_FOR_CONCURRENCY, _fresh_postgres_database, _worker
from tests.e2e.concurrency_helpers import Call, concurrently, statuses, unique
from tests.serving import Server, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 4
THREADS = 64


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Server]:
    try:
        url = _fresh_postgres_database(POSTGRES_FOR_CONCURRENCY, f"couponry_claims_conc_{_worker()}")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    with running_server(url, workers=WORKERS, COUPONRY_DB_POOL_SIZE="5") as server:
        # a webhook listens to claims, so each claim queues its event (nothing is queued for nobody);
        # before any claim, so no process has cached "nobody listens"
        with server.client(create_key(url, "admin")) as admin:
            hook = {"url": "http://127.0.0.1:9/hooks", "events": ["coupon.claimed"]}
            assert admin.post("/v1/webhooks", json=hook).status_code == 201
        yield server


@pytest.fixture(scope="module")
def key(pg_server: Server) -> str:
    return create_key(pg_server.database_url, "storefront")


@pytest.fixture
def admin(pg_server: Server) -> Iterator[httpx.Client]:
    with pg_server.client(create_key(pg_server.database_url, "admin")) as client:
        yield client


def offer(admin: httpx.Client, **claim: int) -> str:
    answer = admin.post(
        "/v1/campaigns",
        json={
            "name": unique("Flash "),
            "currency": "USD",
            "discount": {"type": "amount", "amount": 500},
            "claim": claim,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def claim(campaign_id: str, customer_id: str) -> Call:
    return lambda client: client.post(
        f"/v1/campaigns/{campaign_id}/claims", json={"customer_id": customer_id}
    )


def stored(database_url: str, campaign_id: str) -> dict[str, int]:
    """What the database holds for the campaign, read by SQL rather than the API."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            return (
                conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM claims WHERE campaign_id = :c) AS claims, "
                        "(SELECT count(DISTINCT customer_id) FROM claims WHERE campaign_id = :c) "
                        "AS customers, "
                        "(SELECT count(*) FROM coupons WHERE campaign_id = :c) AS coupons, "
                        "(SELECT claimed FROM claim_offers WHERE campaign_id = :c) AS claimed, "
                        "(SELECT count(*) FROM outbox WHERE type = 'coupon.claimed' "
                        " AND payload ->> 'campaign_id' = :c) AS events"
                    ),
                    {"c": campaign_id},
                )
                .one()
                ._asdict()
            )
    finally:
        engine.dispose()


def test_1000_concurrent_claims_on_a_stock_of_100_give_exactly_100_coupons(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given a flash sale of 100 coupons
    campaign_id = offer(admin, stock=100)
    # when 1,000 customers claim at once, through four server processes
    answers = concurrently(
        pg_server, key, [claim(campaign_id, f"flash-{n:04d}") for n in range(1000)], THREADS
    )
    # then exactly 100 got a coupon, and every other was told it is out of stock
    assert statuses(answers) == {201: 100, 409: 900}
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"out_of_stock"}
    assert len({a.json()["code"] for a in answers if a.status_code == 201}) == 100
    # and the database agrees: 100 claims by 100 customers, 100 coupons, the counter and the events
    assert stored(pg_server.database_url, campaign_id) == {
        "claims": 100,
        "customers": 100,
        "coupons": 100,
        "claimed": 100,
        "events": 100,
    }


def test_one_customer_claiming_concurrently_gets_one_coupon_when_the_limit_is_one(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    campaign_id = offer(admin, stock=1000)
    answers = concurrently(pg_server, key, [claim(campaign_id, "eager")] * 100, THREADS)
    assert statuses(answers) == {201: 1, 409: 99}
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"claim_limit_reached"}
    assert stored(pg_server.database_url, campaign_id) == {
        "claims": 1,
        "customers": 1,
        "coupons": 1,
        "claimed": 1,
        "events": 1,
    }


def test_concurrent_claims_by_few_customers_with_a_limit_of_three_each_stop_at_three(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # each customer's later claims wait for the earlier ones and take the next number, never a fourth
    campaign_id = offer(admin, stock=1000, per_customer=3)
    calls = [claim(campaign_id, f"trio-{n % 5}") for n in range(300)]
    answers = concurrently(pg_server, key, calls, THREADS)
    assert statuses(answers) == {201: 15, 409: 285}
    assert stored(pg_server.database_url, campaign_id) == {
        "claims": 15,
        "customers": 5,
        "coupons": 15,
        "claimed": 15,
        "events": 15,
    }
