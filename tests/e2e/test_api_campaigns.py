"""Campaigns through the HTTP API: creation with API.md's defaults, nonsense refused, roles and stores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign, unique
from tests.serving import Server, create_key


def test_a_campaign_is_created_with_the_defaults_of_the_contract(admin: httpx.Client) -> None:
    created = campaign(admin, name="Spend 100 get 10", discount={"type": "amount", "amount": 1000})

    assert created["status"] == "active"
    assert created["issuer"] == {"type": "platform", "store_id": None}
    assert created["stacking"] == "order"
    assert created["limits"] == {
        "max_redemptions": None,
        "budget": None,
        "per_coupon": None,
        "per_customer": None,
    }
    assert created["conditions"]["channels"] == ["online", "pos"]
    assert created["code_config"] == {"length": 12, "prefix": "", "suffix": "", "pattern": None}
    assert admin.get(f"/v1/campaigns/{created['id']}").json()["name"] == "Spend 100 get 10"


NONSENSE = [
    ({"discount": {"type": "amount", "amount": 1000}, "conditions": {"min_spend": 1000}}, "discount.amount"),
    ({"discount": {"type": "amount", "amount": 1500}, "conditions": {"min_spend": 1000}}, "discount.amount"),
    ({"discount": {"type": "percent", "percent": 0}}, "discount.percent"),
    ({"discount": {"type": "percent", "percent": 100.5}}, "discount.percent"),
    ({"discount": {"type": "amount", "amount": -5}}, "discount.amount"),
    (
        {"discount": {"type": "tiered", "tiers": [{"min_spend": 1000, "amount": 1000}]}},
        "discount.tiers[0].amount",
    ),
    ({"name": "  "}, "name"),
    (
        {"validity": {"starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-01T00:00:00Z"}},
        "validity.ends_at",
    ),
    ({"limits": {"max_redemptions": -1}}, "limits.max_redemptions"),
    ({"limits": {"budget": -100}}, "limits.budget"),
    ({"conditions": {"min_spent": 100}}, "conditions.min_spent"),
    ({"currency": "usd"}, "currency"),
    ({"stacking": "sometimes"}, "stacking"),
]


@pytest.mark.parametrize(("change", "field"), NONSENSE)
def test_a_nonsense_campaign_is_refused_with_422_naming_the_field(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    # given
    before = len(admin.get("/v1/campaigns", params={"limit": 200}).json()["items"])
    body = {"name": "nonsense", "currency": "USD", "discount": {"type": "amount", "amount": 100}, **change}
    # when
    response = admin.post("/v1/campaigns", json=body)
    # then
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_campaign"
    assert problem["field"] == field, problem
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert len(admin.get("/v1/campaigns", params={"limit": 200}).json()["items"]) == before


def test_patch_changes_only_the_given_sections_and_still_refuses_nonsense(admin: httpx.Client) -> None:
    created = campaign(admin, conditions={"min_spend": 5000})

    changed = admin.patch(f"/v1/campaigns/{created['id']}", json={"limits": {"max_redemptions": 5}})
    refused = admin.patch(
        f"/v1/campaigns/{created['id']}", json={"discount": {"type": "amount", "amount": 6000}}
    )

    assert changed.status_code == 200
    assert changed.json()["limits"]["max_redemptions"] == 5
    assert changed.json()["conditions"]["min_spend"] == 5000
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_campaign"
    assert admin.get(f"/v1/campaigns/{created['id']}").json()["discount"]["amount"] == 1000


def test_an_unknown_campaign_is_404_problem(admin: httpx.Client) -> None:
    response = admin.get("/v1/campaigns/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_campaigns_are_listed_newest_first_in_pages(admin: httpx.Client) -> None:
    names = [unique("page") for _ in range(3)]
    for name in names:
        campaign(admin, name=name)

    first = admin.get("/v1/campaigns", params={"limit": 2}).json()
    second = admin.get("/v1/campaigns", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [c["name"] for c in first["items"]] == names[::-1][:2]
    assert second["items"][0]["name"] == names[0]


def test_missing_or_unknown_keys_are_401(server: Server) -> None:
    with server.client(None) as anonymous, server.client("cpn_not-a-key") as stranger:
        assert anonymous.get("/v1/campaigns").status_code == 401
        assert stranger.get("/v1/campaigns").status_code == 401
        assert stranger.get("/v1/campaigns").json()["code"] == "unauthorized"


def test_a_store_key_sees_and_changes_only_its_own_stores_campaigns(
    server: Server, admin: httpx.Client
) -> None:
    # given
    store = unique("store")
    platform = campaign(admin)
    with server.client(create_key(server.database_url, "store", store)) as store_client:
        # when
        own = campaign(store_client)
        listed = store_client.get("/v1/campaigns").json()["items"]
        foreign = store_client.get(f"/v1/campaigns/{platform['id']}")
        foreign_patch = store_client.patch(f"/v1/campaigns/{platform['id']}", json={"status": "paused"})
        foreign_create = store_client.post(
            "/v1/campaigns",
            json={
                "name": "x",
                "currency": "USD",
                "discount": {"type": "amount", "amount": 1},
                "issuer": {"type": "store", "store_id": "someone-else"},
            },
        )
    # then
    assert own["issuer"] == {"type": "store", "store_id": store}
    assert [c["id"] for c in listed] == [own["id"]]
    assert foreign.status_code == 403 and foreign.json()["code"] == "forbidden"
    assert foreign_patch.status_code == 403
    assert foreign_create.status_code == 403
    assert admin.get(f"/v1/campaigns/{platform['id']}").json()["status"] == "active"


@pytest.mark.parametrize("role", ["pos", "storefront"])
def test_pos_and_storefront_keys_cannot_manage_campaigns(server: Server, role: str) -> None:
    with server.client(create_key(server.database_url, role)) as client:
        response = client.post(
            "/v1/campaigns",
            json={"name": "x", "currency": "USD", "discount": {"type": "amount", "amount": 1}},
        )
    assert response.status_code == 403


def test_the_openapi_document_describes_problem_answers(server: Server) -> None:
    document = httpx.get(server.base + "/openapi.json").json()
    post = document["paths"]["/v1/redemptions"]["post"]
    assert "application/problem+json" in post["responses"]["409"]["content"]
    assert "/v1/best-coupons" in document["paths"]


CONTRACT_ROUTES = [
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns"),
    ("get", "/v1/campaigns/{campaign_id}"),
    ("patch", "/v1/campaigns/{campaign_id}"),
    ("post", "/v1/campaigns/{campaign_id}/coupons"),
    ("get", "/v1/campaigns/{campaign_id}/coupons"),
    ("get", "/v1/coupons/{code}"),
    ("get", "/v1/jobs/{job_id}"),
    ("post", "/v1/validations"),
    ("post", "/v1/redemptions"),
    ("get", "/v1/redemptions"),
    ("get", "/v1/redemptions/{redemption_id}"),
    ("post", "/v1/redemptions/{redemption_id}/rollback"),
    ("post", "/v1/reservations"),
    ("delete", "/v1/reservations/{reservation_id}"),
    ("post", "/v1/best-coupons"),
    ("put", "/v1/customers/{customer_id}"),
    ("get", "/v1/customers/{customer_id}/wallet"),
    ("post", "/v1/events"),
]


def test_every_endpoint_the_contract_names_is_served_and_documented(server: Server) -> None:
    paths = httpx.get(server.base + "/openapi.json").json()["paths"]
    missing = [(m, p) for m, p in CONTRACT_ROUTES if m not in paths.get(p, {})]
    assert missing == []
    assert httpx.get(server.base + "/docs").status_code == 200
