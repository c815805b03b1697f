"""Segments over HTTP: created from rules, counted and listed in SQL, and a campaign condition."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.builders import campaign_with_code, cart, database_fingerprint, redeem, unique
from tests.serving import Server


def segment(admin: httpx.Client, rules: list[dict[str, Any]], match: str = "all") -> dict[str, Any]:
    response = admin.post("/v1/segments", json={"name": "test segment", "match": match, "rules": rules})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_segment_counts_and_lists_its_members(admin: httpx.Client) -> None:
    # given customers tagged with this test's tag, two of them big spenders
    tag = unique("tag")
    for i, spent in enumerate([0, 500, 20_000, 30_000]):
        customer = f"{tag}-{i}"
        admin.put(f"/v1/customers/{customer}", json={"tags": [tag], "birthday": "1990-02-03"})
        if spent:
            admin.post(
                "/v1/events",
                json={
                    "type": "order.completed",
                    "customer_id": customer,
                    "order_id": unique("o"),
                    "amount": spent,
                },
            )
    # when a segment asks for the tag and a spend of at least 100.00
    created = segment(
        admin,
        [
            {"field": "tags", "op": "contains", "value": tag},
            {"field": "total_spent", "op": "gte", "value": 10_000},
        ],
    )
    assert admin.get(f"/v1/segments/{created['id']}").json()["rules"] == created["rules"]
    members = admin.get(f"/v1/segments/{created['id']}/customers", params={"limit": 1})
    # then it counts both and lists the first page
    assert members.status_code == 200
    assert members.json()["count"] == 2
    assert [c["id"] for c in members.json()["items"]] == [f"{tag}-2"]
    assert members.json()["items"][0]["total_spent"] == 20_000


def test_new_and_silent_customers_by_time_rules(admin: httpx.Client) -> None:
    tag = unique("tag")
    admin.put(f"/v1/customers/{tag}-new", json={"tags": [tag]})
    admin.put(f"/v1/customers/{tag}-old", json={"tags": [tag], "signed_up_at": "2020-01-01T00:00:00Z"})
    admin.put(f"/v1/customers/{tag}-buyer", json={"tags": [tag], "signed_up_at": "2020-01-01T00:00:00Z"})
    admin.post(
        "/v1/events",
        json={
            "type": "order.completed",
            "customer_id": f"{tag}-buyer",
            "order_id": unique("o"),
            "amount": 100,
        },
    )
    has_tag = {"field": "tags", "op": "contains", "value": tag}
    new = segment(admin, [has_tag, {"field": "days_since_signup", "op": "lt", "value": 7}])
    silent = segment(admin, [has_tag, {"field": "days_since_last_order", "op": "gte", "value": 90}])

    def ids(seg: dict[str, Any]) -> list[str]:
        return [c["id"] for c in admin.get(f"/v1/segments/{seg['id']}/customers").json()["items"]]

    assert ids(new) == [f"{tag}-new"]
    assert ids(silent) == [f"{tag}-old"]


def test_an_unknown_field_op_or_a_wrongly_typed_value_is_invalid_segment(
    admin: httpx.Client, server: Server
) -> None:
    before = database_fingerprint(server.database_url)
    for rule, field in [
        ({"field": "shoe_size", "op": "eq", "value": 42}, "rules[0].field"),
        ({"field": "order_count", "op": "like", "value": 1}, "rules[0].op"),
        ({"field": "order_count", "op": "gt", "value": "many"}, "rules[0].value"),
        ({"field": "birthday_month", "op": "eq", "value": 0}, "rules[0].value"),
    ]:
        response = admin.post("/v1/segments", json={"name": "bad", "rules": [rule]})
        assert response.status_code == 422, rule
        assert response.json()["code"] == "invalid_segment"
        assert response.json()["field"] == field
    missing = admin.post("/v1/segments", json={"name": "bad", "match": "some", "rules": []})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_segment"
    assert database_fingerprint(server.database_url) == before


def test_an_unknown_segment_is_404(admin: httpx.Client) -> None:
    assert admin.get("/v1/segments/nope").status_code == 404
    assert admin.get("/v1/segments/nope/customers").status_code == 404


def test_segments_are_for_admin_keys(server: Server) -> None:
    from tests.serving import create_key

    with server.client(create_key(server.database_url, "storefront")) as storefront:
        assert storefront.post("/v1/segments", json={"name": "x", "rules": []}).status_code == 403


def test_a_campaign_with_a_segment_admits_exactly_its_members(admin: httpx.Client) -> None:
    # given a segment of VIPs and a campaign restricted to it
    tag = unique("vip")
    admin.put(f"/v1/customers/{tag}-in", json={"tags": [tag]})
    admin.put(f"/v1/customers/{tag}-out", json={"tags": ["other"]})
    vips = segment(admin, [{"field": "tags", "op": "contains", "value": tag}])
    _, code = campaign_with_code(admin, conditions={"segment_id": vips["id"]})

    def validate(customer: str | None) -> dict[str, Any]:
        body = {"cart": cart(), "codes": [code], "customer_id": customer}
        return admin.post("/v1/validations", json=body).json()["codes"][0]

    # then a member is valid, anyone else is not eligible, and no customer is required
    assert validate(f"{tag}-in")["valid"] is True
    assert validate(f"{tag}-out")["reason"] == "customer_not_eligible"
    assert validate("never-seen")["reason"] == "customer_not_eligible"
    assert validate(None)["reason"] == "customer_required"
    # and redemption agrees
    assert redeem(admin, code, customer_id=f"{tag}-out").status_code == 409
    assert redeem(admin, code, customer_id=f"{tag}-in").status_code == 201
    # membership follows the profile: the member who loses the tag is no longer admitted
    admin.put(f"/v1/customers/{tag}-in", json={"tags": []})
    assert validate(f"{tag}-in")["reason"] == "customer_not_eligible"


def test_best_coupons_see_segment_membership(admin: httpx.Client) -> None:
    tag = unique("vip")
    customer = f"{tag}-in"
    admin.put(f"/v1/customers/{customer}", json={"tags": [tag]})
    vips = segment(admin, [{"field": "tags", "op": "contains", "value": tag}])
    created, _ = campaign_with_code(admin, conditions={"segment_id": vips["id"]})
    issued = admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer})
    assert issued.status_code == 201
    best = admin.post("/v1/best-coupons", json={"cart": cart(), "customer_id": customer})
    assert best.status_code == 200, best.text
    assert best.json()["discount"] == 1000


def test_a_campaign_naming_a_segment_that_does_not_exist_is_invalid_campaign(
    admin: httpx.Client, server: Server
) -> None:
    # given a campaign body whose condition names no existing segment
    body = {
        "name": unique("for nobody "),
        "currency": "USD",
        "discount": {"type": "amount", "amount": 500},
        "conditions": {"segment_id": "no-such-segment"},
    }
    before = database_fingerprint(server.database_url)
    # when it is created
    created = admin.post("/v1/campaigns", json=body)
    # then it is refused naming the field, and nothing was written
    assert created.status_code == 422, created.text
    assert created.json()["code"] == "invalid_campaign" and "segment_id" in created.json()["field"]
    assert database_fingerprint(server.database_url) == before
    # and an existing campaign cannot be patched to such a segment either
    existing = admin.post("/v1/campaigns", json={**body, "conditions": {}}).json()
    patched = admin.patch(f"/v1/campaigns/{existing['id']}", json={"conditions": {"segment_id": "nope"}})
    assert patched.status_code == 422 and patched.json()["code"] == "invalid_campaign"
    assert admin.get(f"/v1/campaigns/{existing['id']}").json()["conditions"]["segment_id"] is None
