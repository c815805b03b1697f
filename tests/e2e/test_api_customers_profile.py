"""Customer profiles over HTTP: sign-up and last-order times, referral codes, and order events."""

from __future__ import annotations

import httpx

from tests.e2e.builders import cart, unique


def test_first_put_sets_signed_up_at_and_a_referral_code_that_later_puts_keep(admin: httpx.Client) -> None:
    # given a new customer
    customer = unique("cust")
    first = admin.put(f"/v1/customers/{customer}", json={"email": "a@example.com"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["signed_up_at"] and body["referral_code"].startswith("r-")
    assert body["last_order_at"] is None and body["referred_by"] is None
    # when the profile is replaced, with a referral code of its own in the body
    again = admin.put(f"/v1/customers/{customer}", json={"name": "Ann", "referral_code": "r-mine"})
    # then sign-up time and referral code stay
    assert again.status_code == 200
    assert again.json()["signed_up_at"] == body["signed_up_at"]
    assert again.json()["referral_code"] == body["referral_code"]
    assert again.json()["name"] == "Ann"


def test_signed_up_at_can_be_given(admin: httpx.Client) -> None:
    response = admin.put(
        f"/v1/customers/{unique('cust')}", json={"signed_up_at": "2024-01-02T03:04:05+02:00"}
    )
    assert response.status_code == 201
    assert response.json()["signed_up_at"].startswith("2024-01-02T01:04:05")


def test_referred_by_names_another_customer_on_the_first_put_only(admin: httpx.Client) -> None:
    # given an inviter
    inviter = admin.put(f"/v1/customers/{unique('inv')}", json={}).json()
    other = admin.put(f"/v1/customers/{unique('inv')}", json={}).json()
    invitee = unique("new")
    # when the invitee's first PUT names the inviter's code (in any case)
    first = admin.put(f"/v1/customers/{invitee}", json={"referred_by": inviter["referral_code"].upper()})
    assert first.status_code == 201, first.text
    assert first.json()["referred_by"] == inviter["referral_code"]
    # then the same code again is fine, another one is refused and nothing changes
    assert (
        admin.put(f"/v1/customers/{invitee}", json={"referred_by": inviter["referral_code"]}).status_code
        == 200
    )
    later = admin.put(f"/v1/customers/{invitee}", json={"referred_by": other["referral_code"], "name": "X"})
    assert later.status_code == 422 and later.json()["field"] == "referred_by"
    assert later.json()["code"] == "invalid_request"
    after = admin.get(f"/v1/customers/{invitee}").json()
    assert after["referred_by"] == inviter["referral_code"] and after["name"] is None


def test_an_unknown_referral_code_is_refused_and_nothing_is_written(admin: httpx.Client) -> None:
    customer = unique("cust")
    response = admin.put(f"/v1/customers/{customer}", json={"referred_by": "r-doesnotexist00"})
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_referral_code"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert admin.get(f"/v1/customers/{customer}").status_code == 404


def test_a_customer_cannot_refer_themselves(admin: httpx.Client) -> None:
    customer = unique("cust")
    own = admin.put(f"/v1/customers/{customer}", json={}).json()["referral_code"]
    response = admin.put(f"/v1/customers/{customer}", json={"referred_by": own})
    assert response.status_code == 422
    assert response.json()["code"] == "self_referral"


def test_a_referral_code_is_not_a_discount_code(admin: httpx.Client) -> None:
    # given a customer's referral code
    customer = unique("cust")
    code = admin.put(f"/v1/customers/{customer}", json={}).json()["referral_code"]
    # when it is tried at checkout
    response = admin.post("/v1/validations", json={"cart": cart(), "codes": [code], "customer_id": customer})
    # then it is unknown there
    assert response.status_code == 200
    assert response.json()["codes"][0]["reason"] == "unknown_code"


def test_order_events_keep_counts_and_the_latest_order_time_whatever_their_arrival_order(
    admin: httpx.Client,
) -> None:
    customer = unique("cust")
    admin.put(f"/v1/customers/{customer}", json={})

    def event(kind: str, order: str, amount: int | None, at: str) -> httpx.Response:
        body = {"type": kind, "customer_id": customer, "order_id": order, "occurred_at": at}
        if amount is not None:
            body["amount"] = amount
        return admin.post("/v1/events", json=body)

    # when two orders arrive out of order, one twice, and one is refunded without an amount
    assert event("order.completed", "o2", 3000, "2025-03-02T10:00:00Z").status_code == 202
    assert event("order.completed", "o1", 1000, "2025-03-01T10:00:00+01:00").status_code == 202
    assert event("order.completed", "o1", 1000, "2025-03-01T10:00:00+01:00").json()["duplicate"] is True
    assert event("order.refunded", "o1", None, "2025-03-05T10:00:00Z").status_code == 202
    # then the counters count each once and the last order is the latest one that happened
    body = admin.get(f"/v1/customers/{customer}").json()
    assert body["order_count"] == 1 and body["total_spent"] == 3000
    assert body["last_order_at"].startswith("2025-03-02T10:00:00")


def test_an_event_with_a_time_without_offset_is_refused(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/events",
        json={
            "type": "order.completed",
            "customer_id": "c1",
            "order_id": unique("o"),
            "occurred_at": "2025-01-01T00:00:00",
        },
    )
    assert response.status_code == 422 and response.json()["field"] == "occurred_at"


def test_a_customer_first_seen_in_an_order_event_signs_up_at_its_first_put(admin: httpx.Client) -> None:
    customer = unique("cust")
    inviter = admin.put(f"/v1/customers/{unique('inv')}", json={}).json()
    admin.post(
        "/v1/events",
        json={"type": "order.completed", "customer_id": customer, "order_id": unique("o"), "amount": 5},
    )
    seen = admin.get(f"/v1/customers/{customer}").json()
    assert seen["signed_up_at"] is None and seen["referral_code"]
    put = admin.put(f"/v1/customers/{customer}", json={"referred_by": inviter["referral_code"]})
    assert put.status_code == 200
    assert put.json()["signed_up_at"] and put.json()["referred_by"] == inviter["referral_code"]
    assert put.json()["order_count"] == 1
