"""Points and stock under real concurrency: a four-process server on PostgreSQL, requests raced from
many threads. Exchanges never overdraw a balance nor exceed a stock, spins never give a prize out of
stock nor more free spins than the day has, and the balances stay the sums of the ledger."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from couponry.adapters.db.engine import Database, normalize_url
from couponry.adapters.db.ledger import ledger_sums
from couponry.adapters.db.tables import loyalty_accounts
from tests.conftest import POSTGRES_FOR_CONCURRENCY, _fresh_postgres_database, _worker
from tests.e2e.builders import campaign, unique
from tests.e2e.concurrency_helpers import concurrently, statuses
from tests.e2e.loyalty_helpers import balances, member, program
from tests.e2e.loyalty_helpers import ledger_sums as http_ledger_sums
from tests.serving import Server, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 4


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Server]:
    try:
        url = _fresh_postgres_database(POSTGRES_FOR_CONCURRENCY, f"couponry_loyalty_conc_{_worker()}")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    with running_server(url, workers=WORKERS, COUPONRY_DB_POOL_SIZE="5") as server:
        yield server


@pytest.fixture(scope="module")
def key(pg_server: Server) -> str:
    return create_key(pg_server.database_url, "admin")


@pytest.fixture
def admin(pg_server: Server, key: str) -> Iterator[httpx.Client]:
    with pg_server.client(key) as client:
        yield client


def credit(admin: httpx.Client, customer: str, points: int) -> None:
    body = {"customer_id": customer, "points": points, "reason": "t"}
    assert admin.post("/v1/loyalty/adjustments", json=body).status_code == 201


def cached_equals_ledger(server: Server, customer: str) -> bool:
    from sqlalchemy import select

    db = Database(server.database_url, pool_size=1)
    try:
        with db.read() as conn:
            row = conn.execute(
                select(loyalty_accounts).where(loyalty_accounts.c.customer_id == customer)
            ).one()
            sums = ledger_sums(conn, customer)
    finally:
        db.dispose()
    return (row.pending, row.available, row.lifetime) == (sums.pending, sums.available, sums.lifetime)


def test_200_concurrent_exchanges_by_one_customer_with_points_for_10_give_exactly_10(
    admin: httpx.Client, pg_server: Server, key: str
) -> None:
    # given a reward of 100 points and a member with 1,000
    program(admin)
    offered = admin.post(
        "/v1/rewards", json={"name": "r", "points": 100, "campaign_id": campaign(admin)["id"]}
    )
    customer = member(admin)
    credit(admin, customer, 1000)
    path = f"/v1/rewards/{offered.json()['id']}/exchanges"
    # when 200 exchanges race
    answers = concurrently(pg_server, key, [lambda c: c.post(path, json={"customer_id": customer})] * 200)
    # then exactly 10 succeed, each with its own coupon, the rest are refused, and the ledger agrees
    assert statuses(answers) == {201: 10, 409: 190}
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"insufficient_points"}
    assert len({a.json()["code"] for a in answers if a.status_code == 201}) == 10
    assert balances(admin, customer) == (0, 0, 1000) == http_ledger_sums(admin, customer)
    assert cached_equals_ledger(pg_server, customer)


def test_100_members_racing_for_a_reward_of_stock_7_get_exactly_7(
    admin: httpx.Client, pg_server: Server, key: str
) -> None:
    program(admin)
    offered = admin.post(
        "/v1/rewards", json={"name": "r", "points": 10, "campaign_id": campaign(admin)["id"], "stock": 7}
    ).json()
    customers = [member(admin) for _ in range(100)]
    for customer in customers:
        credit(admin, customer, 10)
    path = f"/v1/rewards/{offered['id']}/exchanges"
    answers = concurrently(
        pg_server, key, [lambda c, m=m: c.post(path, json={"customer_id": m}) for m in customers]
    )
    assert statuses(answers) == {201: 7, 409: 93}
    assert admin.get(f"/v1/rewards/{offered['id']}").json()["remaining"] == 0
    assert sum(balances(admin, m)[1] for m in customers) == 1000 - 70


def test_concurrent_spins_never_give_a_prize_beyond_its_stock_nor_free_spins_beyond_the_day(
    admin: httpx.Client, pg_server: Server, key: str
) -> None:
    # given a wheel whose heavy coupon prize has a stock of 5, with 3 free spins a day
    program(admin)
    prizes = [
        {"kind": "coupon", "campaign_id": campaign(admin)["id"], "weight": 10_000, "stock": 5},
        {"kind": "nothing", "weight": 1},
    ]
    spun = admin.post("/v1/wheels", json={"name": "w", "prizes": prizes, "free_spins_per_day": 3}).json()
    customers = [member(admin) for _ in range(20)]
    path = f"/v1/wheels/{spun['id']}/spins"
    # when each member spins 5 times at once (100 spins, 60 of them free)
    calls = [lambda c, m=m: c.post(path, json={"customer_id": m}) for m in customers for _ in range(5)]
    answers = concurrently(pg_server, key, calls)
    # then 60 spins were allowed, exactly 5 gave the coupon, and the rest were refused for want of spins
    assert statuses(answers) == {201: 60, 409: 40}
    kinds = [a.json()["prize"]["kind"] for a in answers if a.status_code == 201]
    assert kinds.count("coupon") == 5
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"no_spins_left"}


def test_orders_raced_at_four_processes_are_committed_together_and_earn_once_each(
    admin: httpx.Client, pg_server: Server, key: str
) -> None:
    # given 6 members
    program(admin)
    customers = [member(admin) for _ in range(6)]
    run = unique("o")
    orders = [(customers[i % 6], f"{run}-{i}") for i in range(240)]
    # when 240 orders of 2,000 (2 points each) are sent twice each, all at once
    calls = [
        lambda c, m=m, o=o: c.post(
            "/v1/events", json={"type": "order.completed", "customer_id": m, "order_id": o, "amount": 2000}
        )
        for m, o in orders
    ] * 2
    answers = concurrently(pg_server, key, calls)
    # then each order was taken once and answered a duplicate once, and each member earned 40 x 2
    assert statuses(answers) == {202: 480}
    fresh = sorted(a.json()["ref"] for a in answers if not a.json()["duplicate"])
    assert fresh == sorted(o for _, o in orders)
    for customer in customers:
        assert balances(admin, customer) == (80, 0, 80) == http_ledger_sums(admin, customer)
        assert cached_equals_ledger(pg_server, customer)
    # and orders that arrived together shared transactions (the events' xmin)
    engine = create_engine(normalize_url(pg_server.database_url))
    try:
        with engine.connect() as conn:
            rows, transactions = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT CAST(CAST(xmin AS text) AS bigint)) "
                    "FROM events WHERE ref LIKE :r"
                ),
                {"r": f"{run}-%"},
            ).one()
    finally:
        engine.dispose()
    assert rows == 240
    assert transactions < rows
