"""Measuring through the HTTP API: campaign stats, A/B variants, settlement and the campaigns report."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.builders import campaign, campaign_with_code, cart, line, redeem, unique
from tests.serving import Server, cli, create_key


def _stats(client: httpx.Client, campaign_id: str, **params: str) -> dict:
    response = client.get(f"/v1/campaigns/{campaign_id}/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_stats_count_redemptions_orders_revenue_and_cost_and_leave_rollbacks_out(admin: httpx.Client) -> None:
    # given a platform campaign of 10.00 off, redeemed on three orders of 40.00 + 5.00 shipping
    created, code = campaign_with_code(admin, discount={"type": "amount", "amount": 1000})
    ids = []
    for _ in range(3):
        response = redeem(admin, code, cart=cart(line("1", 2000, 2)))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    # when one is rolled back whole and one refunds one of its two units
    assert admin.post(f"/v1/redemptions/{ids[0]}/rollback", json={"reason": "cancelled"}).status_code == 200
    refund = admin.post(
        f"/v1/redemptions/{ids[1]}/rollback", json={"reason": "refund", "lines": [{"id": "1", "quantity": 1}]}
    )
    assert refund.status_code == 200, refund.text

    # then
    body = _stats(admin, created["id"])
    assert body["issued"] == 1 and body["redeemed"] == 2 and body["orders"] == 2
    # each order paid 4000 + 500 - 1000 = 3500; the refund took back half the line: 1500 paid, 500 discount
    assert body["revenue"] == 3500 + 3500 - 1500
    assert body["discount_cost"] == {"platform": 1000 + 500, "store": 0, "total": 1500}
    assert body["average_order_value"] == round((7000 - 1500) / 2)
    assert body["roi"] == (5500 - 1500) / 1500
    assert sum(d["redeemed"] for d in body["daily"]) == 2
    assert body["variants"] == [] and body["winner"] is None


def test_an_order_completed_event_gives_the_orders_revenue(admin: httpx.Client) -> None:
    created, code = campaign_with_code(admin, discount={"type": "amount", "amount": 1000})
    order_id = unique("O")
    assert redeem(admin, code, order_id=order_id, customer_id="c-ev").status_code == 201
    event = {"type": "order.completed", "customer_id": "c-ev", "order_id": order_id, "amount": 9900}
    assert admin.post("/v1/events", json=event).status_code == 202

    body = _stats(admin, created["id"])

    assert body["orders"] == 1 and body["revenue"] == 9900


def test_a_store_coupon_costs_the_store_and_a_platform_coupon_is_owed_to_the_store(
    admin: httpx.Client,
) -> None:
    store = unique("S")
    store_campaign, store_code = campaign_with_code(
        admin, issuer={"type": "store", "store_id": store}, discount={"type": "amount", "amount": 300}
    )
    platform_campaign, platform_code = campaign_with_code(
        admin, stacking="item", discount={"type": "amount", "amount": 700}
    )
    order = cart(line("a", 2000, 1, store_id=store), line("b", 2000, 1, store_id=store))
    response = admin.post(
        "/v1/redemptions", json={"order_id": unique("O"), "cart": order, "codes": [platform_code, store_code]}
    )
    assert response.status_code == 201, response.text

    assert _stats(admin, store_campaign["id"])["discount_cost"] == {"platform": 0, "store": 300, "total": 300}
    settlement = admin.get("/v1/reports/settlement").json()
    assert {"store_id": store, "currency": "USD", "amount": 700} in settlement["stores"]
    assert platform_campaign["id"]
    rows = list(csv.DictReader(io.StringIO(admin.get("/v1/reports/settlement.csv").text)))
    assert {"store_id": store, "currency": "USD", "amount": "700"}.items() <= next(
        r for r in rows if r["store_id"] == store
    ).items()


def test_an_ab_campaign_assigns_sticky_variants_and_prices_each_customers_own(admin: httpx.Client) -> None:
    # given an A/B test of 5.00 off against 10.00 off, and a control with no discount
    created = campaign(
        admin,
        discount={"type": "amount", "amount": 500},
        variants=[
            {"name": "five", "discount": {"type": "amount", "amount": 500}, "weight": 1},
            {"name": "ten", "discount": {"type": "amount", "amount": 1000}, "weight": 1},
            {"name": "control", "weight": 1},
        ],
    )
    assert [v["name"] for v in created["variants"]] == ["five", "ten", "control"]
    expected = {"five": 500, "ten": 1000, "control": 0}
    seen: Counter[str] = Counter()
    # when 30 customers each get a personal coupon and redeem it
    for n in range(30):
        customer = f"ab-{created['id']}-{n}"
        codes = admin.post(
            f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer}
        ).json()["codes"]
        again = admin.post(
            f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer}
        ).json()["codes"]
        discounts = set()
        for one in codes + again:
            checked = admin.post(
                "/v1/validations", json={"cart": cart(), "codes": [one], "customer_id": customer}
            ).json()
            assert checked["valid"] is True, checked
            discounts.add(checked["discount"])
        assert len(discounts) == 1, discounts  # both coupons price the same (sticky) variant
        (discount,) = discounts
        arm = next(name for name, amount in expected.items() if amount == discount)
        seen[arm] += 1
        assert redeem(admin, codes[0], customer_id=customer).status_code == 201

    # then the stats count each arm's customers and redemptions, and nobody wins on 30 customers
    body = _stats(admin, created["id"])
    by_name = {v["name"]: v for v in body["variants"]}
    assert {name: v["issued"] for name, v in by_name.items() if v["issued"]} == dict(seen)
    assert all(v["redeemed"] == v["issued"] for v in by_name.values())
    assert by_name["control"]["control"] is True and by_name["control"]["discount_cost"]["total"] == 0
    assert body["winner"] is None and body["min_sample"] >= 1000
    assert body["srm_p_value"] is not None and 0 <= body["srm_p_value"] <= 1
    assert body["redeemed"] == 30 and body["issued"] == 60
    if by_name["control"]["issued"] and by_name["ten"]["issued"]:
        assert by_name["ten"]["incremental_revenue"] is not None


def test_variants_are_checked_like_discounts(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/campaigns",
        json={
            "name": "bad test",
            "currency": "USD",
            "discount": {"type": "amount", "amount": 500},
            "variants": [
                {"name": "a", "discount": {"type": "percent", "percent": 10}},
                {"name": "a", "discount": {"type": "percent", "percent": 15}},
            ],
        },
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_campaign"


def test_the_period_and_its_errors(admin: httpx.Client) -> None:
    created, code = campaign_with_code(admin)
    assert redeem(admin, code).status_code == 201
    body = _stats(admin, created["id"], **{"from": "2020-01-01", "to": "2020-01-31"})
    assert body["redeemed"] == 0 and len(body["daily"]) == 31
    wrong = admin.get(
        f"/v1/campaigns/{created['id']}/stats", params={"from": "2020-02-01", "to": "2020-01-01"}
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_request"
    assert admin.get("/v1/campaigns/nope/stats").status_code == 404
    far = admin.get(f"/v1/campaigns/{created['id']}/stats", params={"from": "9999-12-01", "to": "9999-12-31"})
    assert far.status_code == 422 and far.json()["field"] == "from"
    local = _stats(admin, created["id"], **{"from": "2026-11-01T00:30:00+05:00"})
    assert local["from"] == "2026-10-31"  # an RFC 3339 time is taken as its day in the shop's zone (UTC)


def test_the_campaigns_report_has_one_row_per_campaign(admin: httpx.Client) -> None:
    created, code = campaign_with_code(admin, name="report me", discount={"type": "amount", "amount": 250})
    assert redeem(admin, code).status_code == 201
    response = admin.get("/v1/reports/campaigns.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    row = next(r for r in csv.DictReader(io.StringIO(response.text)) if r["campaign_id"] == created["id"])
    assert row["name"] == "report me" and row["redeemed"] == "1" and row["discount_cost"] == "250"


def test_the_report_command_prints_a_table_and_writes_the_csv(
    admin: httpx.Client, server: Server, tmp_path: Path
) -> None:
    created, code = campaign_with_code(admin, name="cli report", discount={"type": "amount", "amount": 400})
    assert redeem(admin, code).status_code == 201
    out_file = tmp_path / "campaigns.csv"

    out = cli(server.database_url, "report", "campaigns", "--from", "2020-01-01", "--csv", str(out_file))

    assert "cli report" in out and created["id"] in out and "4.00" in out
    row = next(
        r for r in csv.DictReader(io.StringIO(out_file.read_text())) if r["campaign_id"] == created["id"]
    )
    assert row["redeemed"] == "1" and row["discount_cost"] == "400"
    with pytest.raises(RuntimeError, match="to"):
        cli(server.database_url, "report", "campaigns", "--from", "2021-01-02", "--to", "2021-01-01")


def test_a_store_key_sees_its_own_campaigns_and_settlement_only(admin: httpx.Client, server: Server) -> None:
    store = unique("S")
    mine, _ = campaign_with_code(admin, issuer={"type": "store", "store_id": store})
    theirs, _ = campaign_with_code(admin, issuer={"type": "store", "store_id": unique("S")})
    with server.client(create_key(server.database_url, "store", store_id=store)) as client:
        assert client.get(f"/v1/campaigns/{mine['id']}/stats").status_code == 200
        assert client.get(f"/v1/campaigns/{theirs['id']}/stats").status_code == 403
        assert all(s["store_id"] == store for s in client.get("/v1/reports/settlement").json()["stores"])
        rows = list(csv.DictReader(io.StringIO(client.get("/v1/reports/campaigns.csv").text)))
        assert [r["campaign_id"] for r in rows] == [mine["id"]]
    with server.client(create_key(server.database_url, "pos")) as pos:
        assert pos.get(f"/v1/campaigns/{mine['id']}/stats").status_code == 403
        assert pos.get("/v1/reports/settlement").status_code == 403
