"""Rewards and prize wheels over HTTP: exchanges and spins with their refusals (a 409 with a stable code,
and the ledger and every table unchanged), free spins a day, and prizes out of stock never drawn."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.builders import campaign, database_fingerprint, unique
from tests.e2e.loyalty_helpers import assert_balances_are_the_ledger_sums, balances, ledger, member, program
from tests.serving import Server


def credit(admin: httpx.Client, customer: str, points: int) -> None:
    response = admin.post(
        "/v1/loyalty/adjustments", json={"customer_id": customer, "points": points, "reason": "t"}
    )
    assert response.status_code == 201, response.text


def reward(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("campaign_id", campaign(admin)["id"])
    response = admin.post("/v1/rewards", json={"name": "5.00 off", "points": 100, **body})
    assert response.status_code == 201, response.text
    return response.json()


def wheel(admin: httpx.Client, prizes: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    response = admin.post("/v1/wheels", json={"name": "lucky", "prizes": prizes, **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_member_exchanges_points_for_a_coupon_in_their_wallet(admin: httpx.Client) -> None:
    # given a reward of 100 points and a member with 150
    program(admin)
    offered = reward(admin, stock=5)
    assert offered["id"] in [r["id"] for r in admin.get("/v1/rewards").json()["items"]]
    customer = member(admin)
    credit(admin, customer, 150)
    # when they exchange
    response = admin.post(f"/v1/rewards/{offered['id']}/exchanges", json={"customer_id": customer})
    # then they hold the coupon and 50 points; the reward has 4 left
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["points"] == 100 and body["balance"] == 50 and body["code"]
    wallet = admin.get(f"/v1/customers/{customer}/wallet").json()["items"]
    assert [c["campaign_id"] for c in wallet] == [offered["campaign_id"]]
    assert balances(admin, customer) == (0, 50, 150)
    assert ledger(admin, customer)[-1]["kind"] == "redeemed"
    assert admin.get(f"/v1/rewards/{offered['id']}").json()["remaining"] == 4
    assert_balances_are_the_ledger_sums(admin, customer)


def refused(
    client: httpx.Client, path: str, body: dict[str, Any], server: Server, status: int, code: str
) -> None:
    """The request is refused with `code`, and nothing at all was written."""
    before = database_fingerprint(server.database_url)
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert database_fingerprint(server.database_url) == before


def test_exchanges_are_refused_without_points_membership_or_stock_and_write_nothing(
    admin: httpx.Client, server: Server
) -> None:
    program(admin)
    offered, sold_out = reward(admin), reward(admin, stock=0)
    rich, poor = member(admin), member(admin)
    credit(admin, rich, 1000)
    credit(admin, poor, 99)
    stranger = unique("c")
    admin.put(f"/v1/customers/{stranger}", json={})
    path = f"/v1/rewards/{offered['id']}/exchanges"
    refused(admin, path, {"customer_id": poor}, server, 409, "insufficient_points")
    refused(admin, path, {"customer_id": stranger}, server, 409, "not_a_member")
    refused(
        admin, f"/v1/rewards/{sold_out['id']}/exchanges", {"customer_id": rich}, server, 409, "out_of_stock"
    )
    refused(admin, "/v1/rewards/nope/exchanges", {"customer_id": rich}, server, 404, "not_found")
    refused(admin, "/v1/wheels/nope/spins", {"customer_id": rich}, server, 404, "not_found")
    body = {"customer_id": rich, "points": 1.5, "reason": "x"}
    refused(admin, "/v1/loyalty/adjustments", body, server, 422, "invalid_request")
    refused(admin, "/v1/loyalty/adjustments", {**body, "points": 0}, server, 422, "invalid_request")
    refused(admin, "/v1/loyalty/adjustments", {**body, "points": -1001}, server, 409, "insufficient_points")
    negative = {"name": "r", "points": -5, "campaign_id": offered["campaign_id"]}
    refused(admin, "/v1/rewards", negative, server, 422, "invalid_request")
    refused(
        admin,
        "/v1/rewards",
        {"name": "r", "points": 5, "campaign_id": "nope"},
        server,
        422,
        "unknown_campaign",
    )
    assert balances(admin, rich) == (0, 1000, 1000) and balances(admin, poor) == (0, 99, 99)


def test_free_spins_are_counted_per_day_then_spins_cost_points(admin: httpx.Client, server: Server) -> None:
    # given a wheel with 2 free spins a day, then 10 points a spin, and a member with 15 points
    program(admin)
    spun = wheel(admin, [{"kind": "nothing", "weight": 1}], free_spins_per_day=2, cost_points=10)
    customer = member(admin)
    credit(admin, customer, 15)
    path = f"/v1/wheels/{spun['id']}/spins"
    # when they spin 3 times: 2 free, 1 paid
    answers = [admin.post(path, json={"customer_id": customer}) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.json()["free"] for a in answers] == [True, True, False]
    assert answers[0].json()["prize"]["kind"] == "nothing" and answers[0].json()["code"] is None
    # then a fourth is refused for want of points, and writes nothing
    refused(admin, path, {"customer_id": customer}, server, 409, "insufficient_points")
    assert balances(admin, customer)[1] == 5
    # a free-only wheel refuses a spin beyond the day's free ones
    free_only = wheel(admin, [{"kind": "nothing", "weight": 1}], free_spins_per_day=1)
    free_path = f"/v1/wheels/{free_only['id']}/spins"
    assert admin.post(free_path, json={"customer_id": customer}).status_code == 201
    refused(admin, free_path, {"customer_id": customer}, server, 409, "no_spins_left")


def test_a_prize_out_of_stock_is_never_drawn_and_prizes_are_given(admin: httpx.Client) -> None:
    # given a coupon prize of stock 2, a points prize of stock 1 (both heavy) and "nothing"
    program(admin)
    prizes = [
        {"kind": "coupon", "campaign_id": campaign(admin)["id"], "weight": 1000, "stock": 2},
        {"kind": "points", "points": 30, "weight": 1000, "stock": 1},
        {"kind": "nothing", "weight": 1},
    ]
    spun = wheel(admin, prizes, free_spins_per_day=20)
    customer = member(admin)
    # when a member spins 10 times
    kinds = []
    for _ in range(10):
        answer = admin.post(f"/v1/wheels/{spun['id']}/spins", json={"customer_id": customer})
        assert answer.status_code == 201, answer.text
        kinds.append(answer.json()["prize"]["kind"])
        if answer.json()["prize"]["kind"] == "coupon":
            assert answer.json()["code"]
    # then exactly the stock of each prize was given, and the points were credited as a bonus
    assert kinds.count("coupon") == 2 and kinds.count("points") == 1 and kinds.count("nothing") == 7
    remaining = [p.get("remaining") for p in admin.get(f"/v1/wheels/{spun['id']}").json()["prizes"]]
    assert remaining == [0, 0, None]
    assert balances(admin, customer) == (0, 30, 30)
    assert [e["kind"] for e in ledger(admin, customer)] == ["bonus"]


def test_a_non_member_cannot_spin(admin: httpx.Client, server: Server) -> None:
    spun = wheel(admin, [{"kind": "nothing", "weight": 1}])
    stranger = unique("c")
    refused(admin, f"/v1/wheels/{spun['id']}/spins", {"customer_id": stranger}, server, 409, "not_a_member")


def test_a_wheel_with_bad_prizes_is_refused(admin: httpx.Client) -> None:
    bad = [
        [{"kind": "coupon", "weight": 1}],
        [{"kind": "points", "points": 0, "weight": 1}],
        [{"kind": "nothing", "weight": 0}],
        [{"kind": "jackpot", "weight": 1}],
        [],
    ]
    for prizes in bad:
        assert admin.post("/v1/wheels", json={"name": "w", "prizes": prizes}).status_code == 422, prizes
    unknown = [{"kind": "coupon", "campaign_id": "nope", "weight": 1}]
    assert (
        admin.post("/v1/wheels", json={"name": "w", "prizes": unknown}).json()["code"] == "unknown_campaign"
    )
