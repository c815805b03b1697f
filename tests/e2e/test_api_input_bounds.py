"""What a client sends is bounded and typed exactly: out-of-range numbers, lax types, deep or oversized
input and unreadable bodies are refused with a 4xx naming the field, never stored, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign, cart, line, unique

TOO_BIG = 10**20  # past SQLite's 64-bit integers: used to be a 500 on write


def _refused(response: httpx.Response, field: str, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["field"] == field, problem
    return problem


def _validation(client: httpx.Client, body_cart: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/validations", json={"cart": body_cart, "codes": ["ANY"]})


def test_a_malformed_campaigns_cursor_is_a_422_naming_the_cursor(admin: httpx.Client) -> None:
    for cursor in ["null", "%%%", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMXx4"]:
        _refused(admin.get("/v1/campaigns", params={"cursor": cursor}), "cursor")


def test_the_campaigns_cursor_that_was_given_out_pages_on(admin: httpx.Client) -> None:
    for _ in range(3):
        campaign(admin)
    first = admin.get("/v1/campaigns", params={"limit": 2}).json()
    second = admin.get("/v1/campaigns", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert {c["id"] for c in first["items"]}.isdisjoint(c["id"] for c in second.json()["items"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/validations", {"cart": cart(line(on_sale=0)), "codes": ["A"]}, "cart.lines[0].on_sale"),
        ("/v1/validations", {"cart": cart(line(on_sale="true")), "codes": ["A"]}, "cart.lines[0].on_sale"),
        ("/v1/campaigns", {"validity": {"starts_at": 0}}, "validity.starts_at"),
        ("/v1/campaigns", {"validity": {"ends_at": "0"}}, "validity.ends_at"),
        ("/v1/campaigns", {"validity": {"starts_at": "2026-01-01T00:00:00"}}, "validity.starts_at"),
        ("/v1/campaigns", {"scope": {"exclude_on_sale": 1}}, "scope.exclude_on_sale"),
        ("/v1/campaigns", {"conditions": {"first_order_only": "yes"}}, "conditions.first_order_only"),
    ],
)
def test_booleans_and_timestamps_are_strict(
    admin: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    if path == "/v1/campaigns":
        body = {"name": "strict", "currency": "USD", "discount": {"type": "amount", "amount": 1}, **body}
    _refused(admin.post(path, json=body), field)


def test_marketing_consent_zero_is_not_false(admin: httpx.Client) -> None:
    customer = unique("CU")
    _refused(admin.put(f"/v1/customers/{customer}", json={"marketing_consent": 0}), "marketing_consent")
    assert admin.get(f"/v1/customers/{customer}").status_code == 404  # nothing half-written


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limits": {"budget": 10**30}}, "limits.budget"),
        ({"limits": {"max_redemptions": 2**63}}, "limits.max_redemptions"),
        ({"limits": {"per_coupon": 2**31}}, "limits.per_coupon"),
        ({"discount": {"type": "amount", "amount": 2**53}}, "discount.amount"),
        ({"validity": {"days_after_issue": 10**9}}, "validity.days_after_issue"),
        ({"scope": {"products": ["p"] * 1001}}, "scope.products"),
        ({"scope": {"products": ["p" * 201]}}, "scope.products[0]"),
        ({"discount": {"type": "percent", "percent": "1e-999999"}}, "discount.percent"),
    ],
)
def test_a_campaign_with_an_out_of_range_number_or_list_is_refused(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = {"name": "bounds", "currency": "USD", "discount": {"type": "amount", "amount": 1}, **change}
    problem = _refused(admin.post("/v1/campaigns", json=body), field)
    assert problem["code"] == "invalid_campaign"


def test_the_largest_safe_amount_and_count_are_accepted(admin: httpx.Client) -> None:
    created = campaign(
        admin, limits={"budget": 2**53 - 1, "max_redemptions": 2**31 - 1, "per_customer": 2**31 - 1}
    )
    assert (created["limits"]["budget"], created["limits"]["max_redemptions"]) == (2**53 - 1, 2**31 - 1)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([line(unit_price=TOO_BIG)], "cart.lines[0].unit_price"),
        ([line(quantity=10**30)], "cart.lines[0].quantity"),
        ([line(product_id="p" * 201)], "cart.lines[0].product_id"),
        ([line(str(i)) for i in range(501)], "cart.lines"),
        # each amount is in range, their product and sum are not: no total may overflow
        ([line(unit_price=2**53 - 1, quantity=2)], "cart"),
        ([line(str(i), unit_price=2**52, quantity=1) for i in range(3)], "cart"),
    ],
)
def test_a_cart_out_of_range_is_refused_naming_the_field(
    admin: httpx.Client, lines: list[dict[str, Any]], field: str
) -> None:
    _refused(_validation(admin, cart(*lines)), field)


def test_an_event_amount_out_of_range_is_refused(admin: httpx.Client) -> None:
    event = {
        "type": "order.completed",
        "customer_id": unique("CU"),
        "order_id": unique("O"),
        "amount": 10**30,
    }
    _refused(admin.post("/v1/events", json=event), "amount")


def test_a_rollback_quantity_out_of_range_is_refused(admin: httpx.Client) -> None:
    body = {"reason": "refund", "lines": [{"id": "1", "quantity": 10**30}]}
    _refused(admin.post("/v1/redemptions/nosuch/rollback", json=body), "lines[0].quantity")


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_deep_customer_attributes_are_refused_and_nothing_is_stored(admin: httpx.Client) -> None:
    customer = unique("CU")
    problem = _refused(
        admin.put(f"/v1/customers/{customer}", json={"attributes": _nested(900)}), "attributes"
    )
    assert "deep" in problem["detail"]
    assert admin.get(f"/v1/customers/{customer}").status_code == 404


def test_attributes_within_the_bounds_are_kept_and_read_back(admin: httpx.Client) -> None:
    customer = unique("CU")
    attributes = {"tier": "gold", "nested": _nested(3), "sizes": [38, 39]}
    assert admin.put(f"/v1/customers/{customer}", json={"attributes": attributes}).status_code == 201
    assert admin.get(f"/v1/customers/{customer}").json()["attributes"] == attributes


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        ({"attributes": {"k": "x" * 17_000}}, "attributes"),
        ({"attributes": {str(i): i for i in range(101)}}, "attributes"),
        ({"tags": ["t"] * 101}, "tags"),
        ({"birthday": "2026-02-30"}, "birthday"),
    ],
)
def test_oversized_customer_profiles_are_refused(
    admin: httpx.Client, profile: dict[str, Any], field: str
) -> None:
    _refused(admin.put(f"/v1/customers/{unique('CU')}", json=profile), field)


def test_a_customer_id_longer_than_the_column_is_refused(admin: httpx.Client) -> None:
    # PostgreSQL's varchar(100) used to answer this with a 500
    _refused(admin.put(f"/v1/customers/{'c' * 101}", json={}), "customer_id")
    _refused(admin.get(f"/v1/customers/{'c' * 101}/wallet"), "customer_id")


def test_malformed_json_is_explained_with_its_line_and_column(admin: httpx.Client) -> None:
    body = b'{"cart": {"currency": "USD",\n "lines": [] "codes": ["A"]}'
    response = admin.post("/v1/validations", content=body, headers={"Content-Type": "application/json"})
    problem = _refused(response, "body")
    assert problem["code"] == "invalid_request"
    assert problem["detail"] == "the body is not valid JSON: Expecting ',' delimiter at line 2 column 14"


def test_a_body_sent_without_the_json_content_type_is_a_415_that_says_so(admin: httpx.Client) -> None:
    body = json.dumps({"cart": cart(), "codes": ["A"]})
    response = admin.post("/v1/validations", content=body)  # no Content-Type header
    problem = _refused(response, "body", status=415)
    assert problem["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in problem["detail"]


def test_a_missing_body_and_a_body_that_is_not_an_object_are_explained(admin: httpx.Client) -> None:
    missing = admin.post("/v1/validations", headers={"Content-Type": "application/json"})
    assert "needs a JSON body" in _refused(missing, "body")["detail"]
    listed = admin.post("/v1/validations", json=[1, 2])
    assert "JSON object" in _refused(listed, "body")["detail"]


def test_a_body_nested_too_deep_to_parse_is_a_422(admin: httpx.Client) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = admin.post("/v1/validations", content=body, headers={"Content-Type": "application/json"})
    assert _refused(response, "body")["code"] == "invalid_request"


def test_the_openapi_document_lists_the_csv_export_and_the_415(admin: httpx.Client) -> None:
    document = admin.get("/openapi.json").json()
    answers = document["paths"]["/v1/campaigns/{campaign_id}/coupons"]["get"]["responses"]
    assert set(answers["200"]["content"]) == {"application/json", "text/csv"}
    assert "415" in document["paths"]["/v1/validations"]["post"]["responses"]


def test_the_csv_export_answers_the_content_type_it_documents(admin: httpx.Client) -> None:
    created = campaign(admin)
    response = admin.get(f"/v1/campaigns/{created['id']}/coupons", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/csv"


def test_a_wallet_is_paged_however_many_coupons_the_customer_holds(admin: httpx.Client) -> None:
    # given a customer holding 250 personal coupons
    customer = unique("CU")
    created = campaign(admin)
    issued = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 250, "customer_id": customer}
    )
    assert issued.status_code == 201, issued.text
    # when the wallet is read page by page
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = admin.get(f"/v1/customers/{customer}/wallet", params=params)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 100
        seen += [item["code"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    # then every coupon comes exactly once
    assert sorted(seen) == sorted(issued.json()["codes"])
    _refused(admin.get(f"/v1/customers/{customer}/wallet", params={"cursor": "null"}), "cursor")


def test_personal_codes_are_issued_a_thousand_at_most_at_a_time(admin: httpx.Client) -> None:
    created = campaign(admin)
    body = {"count": 1001, "customer_id": unique("CU")}
    _refused(admin.post(f"/v1/campaigns/{created['id']}/coupons", json=body), "count")
