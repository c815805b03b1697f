"""Money invariants under real concurrency: one PostgreSQL, a four-process server, 64 client threads.

Every limit is enforced inside the database (guarded UPDATEs, unique keys), so whichever process serves
whichever request, a limit of N lets exactly N through. Each test races many requests, then checks the
answers, the API's counters and the database's own rows (a `Ledger` read by SQL) against one another.

One server, on a fresh database of its own, is shared by the module; every test makes its own campaign
and codes. Run with COUPONRY_TEST_DATABASE_URL=postgresql://... (the PostgreSQL pass of the suite).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import POSTGRES_FOR_CONCURRENCY, _fresh_postgres_database, _worker
from tests.e2e.concurrency_helpers import (
    Call,
    Ledger,
    campaign_stats,
    cart,
    concurrently,
    confirm,
    coupon,
    create_campaign,
    customer_uses,
    issue_code,
    ledger,
    redeem,
    redemption,
    refusal_reasons,
    release,
    reserve,
    roll_back,
    statuses,
    unique,
)
from tests.serving import Server, create_key, running_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKERS = 4
THREADS = 64


@pytest.fixture(scope="module", params=[8, 1], ids=["8 limit slots", "1 limit slot"])
def pg_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A four-process server on a fresh PostgreSQL database of its own, shared by this module's tests;
    they all run twice: with campaign-wide limits spread over 8 counter rows, and over one."""
    try:
        url = _fresh_postgres_database(POSTGRES_FOR_CONCURRENCY, f"couponry_concurrency_{_worker()}")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL not reachable: {exc}")
    settings = {"COUPONRY_DB_POOL_SIZE": "5", "COUPONRY_LIMIT_SLOTS": str(request.param)}
    with running_server(url, workers=WORKERS, **settings) as server:
        yield server


@pytest.fixture(scope="module")
def key(pg_server: Server) -> str:
    return create_key(pg_server.database_url, "admin")


@pytest.fixture
def admin(pg_server: Server, key: str) -> Iterator[httpx.Client]:
    with pg_server.client(key) as client:
        yield client


def hold(admin: httpx.Client, code: str) -> tuple[str, str]:
    """One reservation of `code` for a new order: (order id, reservation id)."""
    held = admin.post(
        "/v1/reservations",
        json={"order_id": unique("order-"), "cart": cart(), "codes": [code], "ttl_seconds": 600},
    )
    assert held.status_code == 201, held.text
    return held.json()["order_id"], held.json()["id"]


def test_500_concurrent_redemptions_of_an_open_code_limited_to_100_redeem_exactly_100(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, max_redemptions=100)
    code = issue_code(admin, campaign["id"])
    calls = [redeem(unique(f"order-{i}-"), code) for i in range(500)]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 100, 409: 400}
    assert refusal_reasons(answers) == {("redemption_refused", "usage_limit_reached"): 400}
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 100
    assert coupon(admin, code)["redeemed_count"] == 100
    assert campaign_stats(admin, campaign["id"])["redeemed_count"] == 100
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=100, coupon_redeemed=100, campaign_redeemed=100, budget_used=100 * 100
    )


def test_5000_concurrent_redemptions_of_a_flash_sale_code_limited_to_1000_redeem_exactly_1000(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given one open code, its campaign limited to 1,000 redemptions
    campaign = create_campaign(admin, amount=100, max_redemptions=1_000)
    code = issue_code(admin, campaign["id"])
    calls = [redeem(unique(f"order-{i}-"), code) for i in range(5_000)]
    # when 64 threads send 5,000 redemptions to 4 server processes
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 1_000, 409: 4_000}
    assert refusal_reasons(answers) == {("redemption_refused", "usage_limit_reached"): 4_000}
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1_000
    assert campaign_stats(admin, campaign["id"])["redeemed_count"] == 1_000
    assert coupon(admin, code)["redeemed_count"] == 1_000
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=1_000, coupon_redeemed=1_000, campaign_redeemed=1_000, budget_used=100_000
    )


def test_600_concurrent_redemptions_of_300_off_against_a_budget_of_100000_redeem_exactly_333(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given a budget that is not a multiple of the discount (100 left at the end, on no slot in full)
    campaign = create_campaign(admin, amount=300, budget=100_000)
    code = issue_code(admin, campaign["id"])
    calls = [redeem(unique(f"order-{i}-"), code) for i in range(600)]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 333, 409: 267}
    assert refusal_reasons(answers) == {("redemption_refused", "budget_exhausted"): 267}
    stats = campaign_stats(admin, campaign["id"])
    assert (stats["redeemed_count"], stats["budget_used"]) == (333, 99_900)
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=333, coupon_redeemed=333, campaign_redeemed=333, budget_used=99_900
    )


def test_200_concurrent_redemptions_by_one_customer_limited_to_3_per_customer_redeem_exactly_3(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, per_customer=3)
    code = issue_code(admin, campaign["id"])
    customer = unique("customer-")
    calls = [redeem(unique(f"order-{i}-"), code, customer) for i in range(200)]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 3, 409: 197}
    assert refusal_reasons(answers) == {("redemption_refused", "customer_limit_reached"): 197}
    assert coupon(admin, code)["redeemed_count"] == 3
    assert campaign_stats(admin, campaign["id"])["redeemed_count"] == 3
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=3, coupon_redeemed=3, campaign_redeemed=3, budget_used=300
    )
    assert customer_uses(pg_server.database_url, campaign["id"], customer) == (3, 0)
    # and another customer is not held back by the first one's uses
    other = admin.post("/v1/redemptions", json=redemption(unique("order-"), code, unique("customer-")))
    assert other.status_code == 201, other.text


def test_300_concurrent_redemptions_of_300_off_against_a_budget_of_10000_redeem_exactly_33(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=300, budget=10_000)
    code = issue_code(admin, campaign["id"])
    calls = [redeem(unique(f"order-{i}-"), code) for i in range(300)]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 33, 409: 267}
    assert refusal_reasons(answers) == {("redemption_refused", "budget_exhausted"): 267}
    assert all(a.json()["discount"] == 300 for a in answers if a.status_code == 201)
    stats = campaign_stats(admin, campaign["id"])
    assert (stats["redeemed_count"], stats["budget_used"]) == (33, 9_900)
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=33, coupon_redeemed=33, campaign_redeemed=33, budget_used=9_900
    )


def test_50_concurrent_retries_with_one_idempotency_key_redeem_once(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100)
    code = issue_code(admin, campaign["id"])
    idempotency_key = unique("idem-")
    calls = [redeem(unique("order-"), code, key=idempotency_key)] * 50
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert set(statuses(answers)) <= {200, 201}, refusal_reasons(answers)
    assert len({a.json()["id"] for a in answers}) == 1
    assert coupon(admin, code)["redeemed_count"] == 1
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=1, coupon_redeemed=1, campaign_redeemed=1, budget_used=100
    )


def test_an_idempotency_key_already_used_is_a_conflict_with_any_other_body_and_a_replay_with_its_own(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100)
    code = issue_code(admin, campaign["id"])
    idempotency_key = unique("idem-")
    order = unique("order-")
    first = admin.post(
        "/v1/redemptions", json=redemption(order, code), headers={"Idempotency-Key": idempotency_key}
    )
    assert first.status_code == 201, first.text
    others = [redeem(unique(f"order-{i}-"), code, key=idempotency_key) for i in range(20)]
    retries = [redeem(order, code, key=idempotency_key)] * 20
    # when
    answers = concurrently(pg_server, key, others + retries, THREADS)
    # then
    assert refusal_reasons(answers[:20]) == {("idempotency_conflict", ""): 20}
    assert {(a.status_code, a.json()["id"]) for a in answers[20:]} == {(201, first.json()["id"])}
    assert coupon(admin, code)["redeemed_count"] == 1
    assert ledger(pg_server.database_url, code).succeeded == 1


def test_one_idempotency_key_raced_with_two_bodies_redeems_one_of_them_once_and_refuses_the_other(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100)
    code = issue_code(admin, campaign["id"])
    idempotency_key = unique("idem-")
    bodies = [redeem(unique(f"order-{side}-"), code, key=idempotency_key) for side in "ab"]
    # when
    answers = concurrently(pg_server, key, bodies * 30, THREADS)
    # then
    assert coupon(admin, code)["redeemed_count"] == 1
    assert ledger(pg_server.database_url, code).succeeded == 1
    won = [a for a in answers if a.status_code in (200, 201)]
    assert len({(a.json()["id"], a.json()["order_id"]) for a in won}) == 1
    assert len(won) == 30
    assert refusal_reasons(answers) == {("idempotency_conflict", ""): 30}


def test_100_concurrent_attempts_on_a_personal_code_used_once_per_coupon_redeem_exactly_once(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, per_coupon=1)
    customer = unique("customer-")
    code = issue_code(admin, campaign["id"], customer_id=customer)
    calls = [redeem(unique(f"order-{i}-"), code, customer) for i in range(100)]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {201: 1, 409: 99}
    assert refusal_reasons(answers) == {("redemption_refused", "coupon_used_up"): 99}
    assert coupon(admin, code)["redeemed_count"] == 1
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=1, coupon_redeemed=1, campaign_redeemed=1, budget_used=100
    )


def test_40_concurrent_holds_under_a_limit_of_10_keep_10_and_each_is_confirmed_despite_a_flash_crowd(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, max_redemptions=10)
    code = issue_code(admin, campaign["id"])
    # when
    held = concurrently(pg_server, key, [reserve(unique(f"order-{i}-"), code) for i in range(40)], THREADS)
    # then
    assert statuses(held) == {201: 10, 409: 30}
    assert refusal_reasons(held) == {("redemption_refused", "usage_limit_reached"): 30}
    assert coupon(admin, code)["redeemed_count"] == 0  # a hold is not a redemption
    assert ledger(pg_server.database_url, code) == Ledger(coupon_held=10, campaign_held=10, budget_held=1_000)

    # given the ten holders confirm in the middle of 100 fresh orders trying the same code
    holds = [(a.json()["order_id"], a.json()["id"]) for a in held if a.status_code == 201]
    crowd = [redeem(unique(f"crowd-{i}-"), code) for i in range(100)]
    calls = crowd[:50] + [confirm(order, reservation) for order, reservation in holds] + crowd[50:]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    confirmed, refused = answers[50:60], answers[:50] + answers[60:]
    assert [a.status_code for a in confirmed] == [201] * 10, [a.text for a in confirmed]
    assert {a.json()["reservation_id"] for a in confirmed} == {reservation for _, reservation in holds}
    assert refusal_reasons(refused) == {("redemption_refused", "usage_limit_reached"): 100}
    assert coupon(admin, code)["redeemed_count"] == 10
    assert campaign_stats(admin, campaign["id"])["redeemed_count"] == 10
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=10, coupon_redeemed=10, campaign_redeemed=10, budget_used=1_000
    )


def test_each_of_5_holds_confirmed_4_times_concurrently_is_redeemed_once(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, max_redemptions=5)
    code = issue_code(admin, campaign["id"])
    holds = [hold(admin, code) for _ in range(5)]
    # when
    answers = concurrently(pg_server, key, [confirm(order, reservation) for order, reservation in holds] * 4)
    # then
    assert statuses(answers) == {201: 5, 409: 15}
    assert refusal_reasons(answers) == {("reservation_consumed", ""): 15}
    assert {a.json()["reservation_id"] for a in answers if a.status_code == 201} == {r for _, r in holds}
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=5, coupon_redeemed=5, campaign_redeemed=5, budget_used=500
    )


def test_10_holds_released_and_confirmed_at_the_same_moment_are_each_redeemed_once_and_held_no_more(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, max_redemptions=10)
    code = issue_code(admin, campaign["id"])
    holds = [hold(admin, code) for _ in range(10)]
    calls = [confirm(order, reservation) for order, reservation in holds]
    calls += [release(reservation) for _, reservation in holds]
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then: a confirmation that lost to its release redeems afresh, in the place the release gave back
    assert [a.status_code for a in answers[:10]] == [201] * 10, [a.text for a in answers[:10]]
    assert [a.status_code for a in answers[10:]] == [200] * 10, [a.text for a in answers[10:]]
    assert {a.json()["status"] for a in answers[10:]} <= {"released", "consumed"}
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=10, coupon_redeemed=10, campaign_redeemed=10, budget_used=1_000
    )


def test_20_redemptions_each_rolled_back_twice_concurrently_give_their_usage_and_budget_back_exactly_once(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    campaign = create_campaign(admin, amount=100, max_redemptions=20, budget=2_000)
    code = issue_code(admin, campaign["id"])
    redeemed = concurrently(pg_server, key, [redeem(unique(f"order-{i}-"), code) for i in range(20)], THREADS)
    assert statuses(redeemed) == {201: 20}
    ids = [a.json()["id"] for a in redeemed]
    # when
    answers = concurrently(pg_server, key, [roll_back(i) for i in ids + ids], THREADS)
    # then
    assert statuses(answers) == {200: 20, 409: 20}
    assert {a.json()["id"] for a in answers if a.status_code == 200} == set(ids)
    assert refusal_reasons(answers) == {("already_rolled_back", ""): 20}
    assert coupon(admin, code)["redeemed_count"] == 0
    stats = campaign_stats(admin, campaign["id"])
    assert (stats["redeemed_count"], stats["budget_used"]) == (0, 0)
    assert ledger(pg_server.database_url, code) == Ledger()
    # and the usage given back can be used again, once and no more
    again = concurrently(pg_server, key, [redeem(unique(f"again-{i}-"), code) for i in range(40)], THREADS)
    assert statuses(again) == {201: 20, 409: 20}


def test_one_order_completed_event_delivered_20_times_concurrently_counts_once(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given
    customer = unique("customer-")
    event = {"type": "order.completed", "customer_id": customer, "order_id": unique("order-"), "amount": 4100}
    calls = [lambda client: client.post("/v1/events", json={**event, "currency": "USD"})] * 20
    # when
    answers = concurrently(pg_server, key, calls, THREADS)
    # then
    assert statuses(answers) == {202: 20}
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 19
    stored = admin.get(f"/v1/customers/{customer}")
    assert stored.status_code == 200, stored.text
    assert (stored.json()["order_count"], stored.json()["total_spent"]) == (1, 4100)


def test_a_limit_added_while_an_unlimited_code_is_redeemed_concurrently_counts_every_redemption(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given an open code without a campaign-wide limit (its campaign row keeps no counters)
    campaign = create_campaign(admin, amount=100)
    code = issue_code(admin, campaign["id"])
    redeemed = [0]

    def counted(call: Call) -> Call:
        def run(client: httpx.Client) -> httpx.Response:
            answer = call(client)
            redeemed[0] += answer.status_code == 201
            return answer

        return run

    def patch_when_busy(client: httpx.Client) -> httpx.Response:
        while redeemed[0] < 40:
            time.sleep(0.005)
        return client.patch(f"/v1/campaigns/{campaign['id']}", json={"limits": {"max_redemptions": 150}})

    calls = [counted(redeem(unique(f"order-{i}-"), code)) for i in range(400)]
    calls.insert(120, patch_when_busy)
    # when a limit of 150 is set while 64 threads redeem
    answers = concurrently(pg_server, key, calls, THREADS)
    # then the recount at the limit's arrival (every redemption committed by then, none in flight)
    # missed nothing: after it, exactly the rest of the limit succeeds. A loaded machine may deliver the
    # limit only after 150 redemptions; then not one more succeeds.
    assert answers[120].status_code == 200, answers[120].text
    at_limit = answers[120].json()["stats"]["redeemed_count"]
    expected = max(150, at_limit)
    redemptions = [a for i, a in enumerate(answers) if i != 120]
    assert at_limit >= 40
    assert statuses(redemptions) == {201: expected, 409: 400 - expected}
    assert refusal_reasons(redemptions) == {("redemption_refused", "usage_limit_reached"): 400 - expected}
    assert ledger(pg_server.database_url, code) == Ledger(
        succeeded=expected, coupon_redeemed=expected, campaign_redeemed=expected, budget_used=expected * 100
    )


def test_a_partial_refund_racing_a_whole_rollback_never_gives_the_budget_back_twice(
    pg_server: Server, key: str, admin: httpx.Client
) -> None:
    # given 30 redemptions of 100 off, each on a cart line of one unit, under a tracked budget
    campaign = create_campaign(admin, amount=100, budget=1_000_000)
    code = issue_code(admin, campaign["id"])
    ids = []
    for i in range(30):
        answer = admin.post("/v1/redemptions", json=redemption(unique(f"order-{i}-"), code))
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])

    def refund_line(redemption_id: str) -> Call:
        body = {"reason": "refund", "lines": [{"id": "1", "quantity": 1}]}
        return lambda client: client.post(f"/v1/redemptions/{redemption_id}/rollback", json=body)

    calls = [call for rid in ids for call in (roll_back(rid), refund_line(rid))]
    # when each is rolled back whole and refunded by its line at the same moment
    answers = concurrently(pg_server, key, calls, THREADS)
    # then each gave its 100 back once, whichever came first, and the use only with the whole rollback
    assert statuses(answers[0::2]) == {200: 30}
    assert set(statuses(answers[1::2])) <= {200, 409}
    assert campaign_stats(admin, campaign["id"])["budget_used"] == 0
    assert campaign_stats(admin, campaign["id"])["redeemed_count"] == 0
