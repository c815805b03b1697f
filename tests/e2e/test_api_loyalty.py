"""The loyalty program over HTTP: settings, membership, earning on completed orders, refunds (pending
first, then available, a debt when already spent), maturing and expiry by `couponry tick`, adjustments,
and the balances always equal to the sums of the ledger."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.e2e.builders import unique
from tests.e2e.loyalty_helpers import (
    assert_balances_are_the_ledger_sums,
    balances,
    ledger,
    member,
    order,
    points,
    program,
    refund,
    some_future_time,
)
from tests.e2e.messaging_helpers import tick
from tests.serving import Server, create_key


def test_the_program_is_saved_as_given_and_read_back(admin: httpx.Client) -> None:
    saved = program(
        admin, multipliers=[{"categories": ["shoes"], "factor": 2}, {"brands": ["acme"], "factor": 1.5}]
    )
    assert saved["per_amount"] == 1000 and saved["pending_days"] == 30
    assert saved["multipliers"] == [
        {"products": [], "categories": ["shoes"], "brands": [], "factor": 2},
        {"products": [], "categories": [], "brands": ["acme"], "factor": 1.5},
    ]
    assert admin.get("/v1/loyalty/program").json()["multipliers"] == saved["multipliers"]


def test_a_member_earns_pending_points_per_line_with_multipliers_rounded_down_per_order(
    admin: httpx.Client,
) -> None:
    # given double points on shoes and a member
    program(admin, multipliers=[{"categories": ["shoes"], "factor": 2}])
    customer = member(admin)
    # when an order of a 15.00 shoe line, and two lines of 4.50 and 4.90 completes
    lines = [
        {"product_id": "p1", "category": "shoes", "brand": "acme", "amount": 1500},
        {"product_id": "p2", "category": "hats", "amount": 450},
        {"product_id": "p3", "category": "hats", "amount": 490},
    ]
    order(admin, customer, some_future_time(), lines=lines)
    # then it earns (3000 + 450 + 490) / 1000 = 3.94 -> 3 pending points
    assert balances(admin, customer) == (3, 0, 3)
    (entry,) = ledger(admin, customer)
    assert entry["kind"] == "earned" and entry["points"] == 3 and entry["source"]["type"] == "order"
    assert_balances_are_the_ledger_sums(admin, customer)


def test_an_order_without_lines_earns_on_its_amount_at_the_base_rate(admin: httpx.Client) -> None:
    program(admin, multipliers=[{"categories": ["shoes"], "factor": 2}])
    customer = member(admin)
    order(admin, customer, some_future_time(), amount=4100)
    assert balances(admin, customer) == (4, 0, 4)


def test_non_members_and_former_members_earn_nothing(admin: httpx.Client) -> None:
    program(admin)
    stranger = unique("c")
    admin.put(f"/v1/customers/{stranger}", json={})
    order(admin, stranger, some_future_time(), amount=50_000)
    assert balances(admin, stranger) == (0, 0, 0) and ledger(admin, stranger) == []
    leaver = member(admin)
    assert admin.delete(f"/v1/customers/{leaver}/loyalty").status_code == 204
    order(admin, leaver, some_future_time(), amount=50_000)
    assert balances(admin, leaver) == (0, 0, 0)
    assert points(admin, leaver)["member"] is False
    assert admin.delete(f"/v1/customers/{leaver}/loyalty").status_code == 404


def test_joining_twice_is_one_membership(admin: httpx.Client) -> None:
    customer = member(admin)
    again = admin.post(f"/v1/customers/{customer}/loyalty")
    assert again.status_code == 200 and again.json()["member"] is True


def test_the_same_order_event_twice_earns_once(admin: httpx.Client) -> None:
    program(admin)
    customer = member(admin)
    at = some_future_time()
    order_id = order(admin, customer, at, amount=10_000)
    order(admin, customer, at, amount=10_000, order_id=order_id)
    assert balances(admin, customer) == (10, 0, 10)
    refund(admin, customer, order_id, 5000)
    refund(admin, customer, order_id, 5000)
    assert balances(admin, customer) == (5, 0, 5)
    assert_balances_are_the_ledger_sums(admin, customer)


def test_points_mature_after_the_pending_days_and_a_second_tick_changes_nothing(
    admin: httpx.Client, server: Server
) -> None:
    # given a member's order of 100.00 (10 points)
    program(admin)
    customer = member(admin)
    at = some_future_time()
    order(admin, customer, at, amount=10_000)
    # when the scheduler ticks 29 days later, then 31 days later, twice
    tick(server.database_url, at + timedelta(days=29), "loyalty.mature")
    assert balances(admin, customer) == (10, 0, 10)
    assert tick(server.database_url, at + timedelta(days=31), "loyalty.mature") == {
        "loyalty.mature": "succeeded"
    }
    tick(server.database_url, at + timedelta(days=31, hours=1), "loyalty.mature")
    # then the points are available once
    assert balances(admin, customer) == (0, 10, 10)
    assert [e["kind"] for e in ledger(admin, customer)] == ["earned", "matured"]
    assert_balances_are_the_ledger_sums(admin, customer)


def test_a_refund_takes_pending_points_first_and_a_late_one_takes_available_points(
    admin: httpx.Client, server: Server
) -> None:
    program(admin)
    customer = member(admin)
    at = some_future_time()
    first = order(admin, customer, at, amount=10_000)
    # a partial refund while pending: half of 10 points taken from pending
    refund(admin, customer, first, 5000)
    assert balances(admin, customer) == (5, 0, 5)
    # maturing makes the rest available; a refund of another matured order takes available points
    second = order(admin, customer, at, amount=4000)
    tick(server.database_url, at + timedelta(days=31), "loyalty.mature")
    assert balances(admin, customer) == (0, 9, 9)
    refund(admin, customer, second)
    assert balances(admin, customer) == (0, 5, 5)
    kinds = [(e["kind"], e["bucket"], e["points"]) for e in ledger(admin, customer)]
    assert ("reversed", "pending", -5) in kinds and ("reversed", "available", -4) in kinds
    assert_balances_are_the_ledger_sums(admin, customer)


def test_refunding_points_already_spent_leaves_a_debt_that_later_earnings_pay_off(
    admin: httpx.Client, server: Server
) -> None:
    # given 10 available points, all spent by an adjustment
    program(admin)
    customer = member(admin)
    at = some_future_time()
    spent_order = order(admin, customer, at, amount=10_000)
    tick(server.database_url, at + timedelta(days=31), "loyalty.mature")
    taken = admin.post(
        "/v1/loyalty/adjustments", json={"customer_id": customer, "points": -10, "reason": "gift"}
    )
    assert taken.status_code == 201, taken.text
    # when the order is refunded: a debt of 10
    refund(admin, customer, spent_order)
    assert balances(admin, customer)[1] == -10
    # then a later order of 15 points pays it off once it matures
    order(admin, customer, at + timedelta(days=40), amount=15_000)
    tick(server.database_url, at + timedelta(days=71), "loyalty.mature")
    assert balances(admin, customer)[1] == 5
    assert_balances_are_the_ledger_sums(admin, customer)


def test_available_points_expire_oldest_first_and_only_their_unused_rest(
    admin: httpx.Client, server: Server
) -> None:
    # given two lots of 10 points, a month apart, expiring 30 days after they mature; 12 spent
    program(admin, pending_days=0, expiry_days=30)
    customer = member(admin)
    at = some_future_time()
    order(admin, customer, at, amount=10_000)
    order(admin, customer, at + timedelta(days=20), amount=10_000)
    tick(server.database_url, at + timedelta(days=21), "loyalty.mature")
    spend = admin.post(
        "/v1/loyalty/adjustments", json={"customer_id": customer, "points": -12, "reason": "x"}
    )
    assert spend.status_code == 201
    assert balances(admin, customer) == (0, 8, 8)
    # when the first lot's date passes: it was used up, nothing expires
    tick(server.database_url, at + timedelta(days=31), "loyalty.expire")
    assert balances(admin, customer)[1] == 8
    # when the second's passes: its unused 8 expire, once
    tick(server.database_url, at + timedelta(days=51), "loyalty.expire")
    tick(server.database_url, at + timedelta(days=52), "loyalty.expire")
    assert balances(admin, customer) == (0, 0, 8)
    assert [e["points"] for e in ledger(admin, customer) if e["kind"] == "expired"] == [-8]
    assert_balances_are_the_ledger_sums(admin, customer)


def test_an_admin_adjusts_points_and_cannot_take_more_than_is_available(admin: httpx.Client) -> None:
    program(admin)
    customer = member(admin)
    given = admin.post(
        "/v1/loyalty/adjustments", json={"customer_id": customer, "points": 25, "reason": "sorry"}
    )
    assert (
        given.status_code == 201 and given.json()["kind"] == "adjusted" and given.json()["reason"] == "sorry"
    )
    refused = admin.post(
        "/v1/loyalty/adjustments", json={"customer_id": customer, "points": -26, "reason": "x"}
    )
    assert refused.status_code == 409 and refused.json()["code"] == "insufficient_points"
    assert balances(admin, customer) == (0, 25, 25)


def test_a_storefront_key_reads_points_but_cannot_adjust_or_change_the_program(
    admin: httpx.Client, server: Server
) -> None:
    program(admin)
    customer = member(admin)
    with server.client(create_key(server.database_url, "storefront")) as storefront:
        assert storefront.get(f"/v1/customers/{customer}/points").status_code == 200
        assert storefront.put("/v1/loyalty/program", json={}).status_code == 403
        body = {"customer_id": customer, "points": 5, "reason": "x"}
        assert storefront.post("/v1/loyalty/adjustments", json=body).status_code == 403


def test_the_referral_program_credits_the_inviter_points_once(admin: httpx.Client) -> None:
    program(admin)
    assert (
        admin.put("/v1/referral-program", json={"reward_on": "signup", "inviter_points": 50}).status_code
        == 200
    )
    host = member(admin)
    code = admin.get(f"/v1/customers/{host}").json()["referral_code"]
    guest = unique("guest")
    admin.put(f"/v1/customers/{guest}", json={"referred_by": code})
    admin.put(f"/v1/customers/{guest}", json={"referred_by": code, "name": "G"})
    assert balances(admin, host) == (0, 50, 50)
    (entry,) = ledger(admin, host)
    assert entry["kind"] == "bonus" and entry["source"] == {"type": "referral", "id": guest}
