"""The coupon center over HTTP: claim offers on campaigns, the listing, claims and their refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import claim_offers, claims, outbox
from tests.e2e.builders import campaign, database_fingerprint, unique
from tests.serving import Server, create_key


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def offer(admin: httpx.Client, claim: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return campaign(admin, name=spec.pop("name", unique("Center ")), claim=claim or {}, **spec)


def claim(client: httpx.Client, campaign_id: str, customer_id: str, **headers: str) -> httpx.Response:
    return client.post(
        f"/v1/campaigns/{campaign_id}/claims", json={"customer_id": customer_id}, headers=headers
    )


def listed(client: httpx.Client, campaign_id: str, **query: str) -> dict[str, Any] | None:
    response = client.get("/v1/coupon-center", params=query)
    assert response.status_code == 200, response.text
    return next((i for i in response.json()["items"] if i["campaign_id"] == campaign_id), None)


def refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.fixture(scope="module")
def storefront_key(server: Server) -> str:
    return create_key(server.database_url, "storefront")


@pytest.fixture
def storefront(server: Server, storefront_key: str) -> Iterator[httpx.Client]:
    with server.client(storefront_key) as client:
        yield client


def test_a_campaign_carries_its_claim_offer_with_what_was_claimed(admin: httpx.Client) -> None:
    created = offer(admin, {"stock": 10, "per_customer": 2, "products": ["p1"], "ends_at": at(days=1)})
    assert created["claim"]["stock"] == 10
    assert created["claim"]["per_customer"] == 2
    assert created["claim"]["products"] == ["p1"] and created["claim"]["categories"] == []
    assert created["claim"]["claimed"] == 0
    assert campaign(admin)["claim"] is None  # no offer unless asked
    claim(admin, created["id"], unique("cust-"))
    # a PATCH replaces the offer; what was claimed stays counted
    patched = admin.patch(f"/v1/campaigns/{created['id']}", json={"claim": {"stock": 3}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["claim"] == {**patched.json()["claim"], "stock": 3, "per_customer": 1, "claimed": 1}
    assert admin.get(f"/v1/campaigns/{created['id']}").json()["claim"]["claimed"] == 1


@pytest.mark.parametrize(
    ("claim_body", "field"),
    [
        ({"stock": -1}, "claim.stock"),
        ({"per_customer": 0}, "claim.per_customer"),
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "claim.ends_at"),
        ({"stock": 5, "colour": "red"}, "claim.colour"),
    ],
)
def test_a_nonsense_claim_offer_is_invalid_campaign_naming_the_field_and_writes_nothing(
    admin: httpx.Client, server: Server, claim_body: dict[str, Any], field: str
) -> None:
    before = database_fingerprint(server.database_url)
    response = admin.post(
        "/v1/campaigns",
        json={
            "name": "x",
            "currency": "USD",
            "discount": {"type": "amount", "amount": 100},
            "claim": claim_body,
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_campaign"
    assert response.json()["field"] == field
    existing = campaign(admin)
    patched = admin.patch(f"/v1/campaigns/{existing['id']}", json={"claim": claim_body})
    assert patched.status_code == 422 and patched.json()["code"] == "invalid_campaign"
    assert admin.get(f"/v1/campaigns/{existing['id']}").json()["claim"] is None
    assert database_fingerprint(server.database_url)["claim_offers"] == before["claim_offers"]


def test_a_claim_issues_a_personal_coupon_found_in_the_wallet_valid_from_the_claim(
    admin: httpx.Client, storefront: httpx.Client, server: Server
) -> None:
    # given a campaign valid 7 days from issue, claimable by anyone, and a webhook listening to claims
    created = offer(admin, {"stock": 5}, validity={"days_after_issue": 7})
    hook = {"url": "http://127.0.0.1:9/hooks", "events": ["coupon.claimed"]}
    assert admin.post("/v1/webhooks", json=hook).status_code == 201
    customer = unique("cust-")
    # when the storefront claims it for a customer
    before = datetime.now(UTC)
    response = claim(storefront, created["id"], customer)
    # then a personal coupon is issued, valid 7 days from now
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "campaign_id", "customer_id", "valid_until"}
    assert body["campaign_id"] == created["id"] and body["customer_id"] == customer
    valid_until = datetime.fromisoformat(body["valid_until"])
    assert before + timedelta(days=7) <= valid_until <= datetime.now(UTC) + timedelta(days=7)
    coupon = admin.get(f"/v1/coupons/{body['code']}").json()
    assert coupon["customer_id"] == customer and coupon["status"] == "active"
    wallet = storefront.get(f"/v1/customers/{customer}/wallet").json()["items"]
    assert [c["code"] for c in wallet] == [body["code"]]
    # and the stock went down by one, the event is queued
    assert listed(storefront, created["id"])["remaining"] == 4
    engine = create_engine(normalize_url(server.database_url))
    with engine.connect() as conn:
        events = (
            conn.execute(select(outbox.c.payload).where(outbox.c.type == "coupon.claimed")).scalars().all()
        )
    engine.dispose()
    assert {**body} in events


def test_one_claim_per_customer_by_default_then_claim_limit_reached(
    admin: httpx.Client, storefront: httpx.Client
) -> None:
    created = offer(admin, {"stock": 10})
    customer = unique("cust-")
    assert claim(storefront, created["id"], customer).status_code == 201
    refused(claim(storefront, created["id"], customer), "claim_limit_reached")
    item = listed(storefront, created["id"], customer_id=customer)
    assert item["claimable"] is False and item["remaining"] == 9 and item["claimed_by_customer"] == 1
    assert listed(storefront, created["id"], customer_id=unique("other-"))["claimable"] is True


def test_per_customer_two_gives_two_distinct_coupons(admin: httpx.Client, storefront: httpx.Client) -> None:
    created = offer(admin, {"stock": 10, "per_customer": 2})
    customer = unique("cust-")
    codes = [claim(storefront, created["id"], customer).json()["code"] for _ in range(2)]
    assert len(set(codes)) == 2
    refused(claim(storefront, created["id"], customer), "claim_limit_reached")


def test_a_sold_out_campaign_stays_listed_not_claimable_until_its_window_ends(
    admin: httpx.Client, storefront: httpx.Client, server: Server
) -> None:
    # given a stock of 2, claimed by two customers
    created = offer(admin, {"stock": 2, "ends_at": at(days=1)})
    for _ in range(2):
        assert claim(storefront, created["id"], unique("cust-")).status_code == 201
    # when a third customer tries, nothing is written
    before = database_fingerprint(server.database_url)
    refused(claim(storefront, created["id"], unique("cust-")), "out_of_stock")
    assert database_fingerprint(server.database_url) == before
    # then the campaign is listed with nothing remaining, not claimable
    item = listed(storefront, created["id"], customer_id=unique("cust-"))
    assert item["remaining"] == 0 and item["claimable"] is False and item["reason"] == "out_of_stock"
    # and once its window has ended it is no longer listed
    admin.patch(
        f"/v1/campaigns/{created['id']}",
        json={"claim": {"stock": 2, "starts_at": at(days=-2), "ends_at": at(seconds=-1)}},
    )
    assert listed(storefront, created["id"]) is None


def test_outside_the_claim_window_is_claim_not_open(admin: httpx.Client, storefront: httpx.Client) -> None:
    upcoming = offer(admin, {"stock": 5, "starts_at": at(hours=1), "ends_at": at(hours=2)})
    refused(claim(storefront, upcoming["id"], unique("cust-")), "claim_not_open")
    item = listed(storefront, upcoming["id"])
    assert item["claimable"] is False and item["remaining"] == 5 and item["reason"] == "claim_not_open"
    over = offer(admin, {"starts_at": at(hours=-2), "ends_at": at(hours=-1)})
    refused(claim(storefront, over["id"], unique("cust-")), "claim_not_open")
    assert listed(storefront, over["id"]) is None


def test_campaigns_without_an_offer_inactive_or_for_others_are_not_claimable(
    admin: httpx.Client, storefront: httpx.Client
) -> None:
    refused(claim(storefront, campaign(admin)["id"], unique("cust-")), "not_claimable")
    paused = offer(admin, {"stock": 5}, status="paused")
    refused(claim(storefront, paused["id"], unique("cust-")), "not_claimable")
    assert listed(storefront, paused["id"]) is None
    # a campaign for one segment: its members may claim, others may not
    tag = unique("vip")
    member, outsider = unique("cust-"), unique("cust-")
    admin.put(f"/v1/customers/{member}", json={"tags": [tag]})
    admin.put(f"/v1/customers/{outsider}", json={"tags": []})
    segment = admin.post(
        "/v1/segments", json={"name": tag, "rules": [{"field": "tags", "op": "contains", "value": tag}]}
    ).json()
    vip = offer(admin, {"stock": 5}, conditions={"segment_id": segment["id"]})
    assert listed(storefront, vip["id"], customer_id=outsider)["claimable"] is False
    refused(claim(storefront, vip["id"], outsider), "not_claimable")
    assert listed(storefront, vip["id"], customer_id=member)["claimable"] is True
    assert claim(storefront, vip["id"], member).status_code == 201
    assert admin.post("/v1/campaigns/nope/claims", json={"customer_id": member}).status_code == 404


def test_the_listing_filters_by_product_and_category(admin: httpx.Client, storefront: httpx.Client) -> None:
    everywhere = offer(admin, {"stock": 5})
    shoes = offer(admin, {"stock": 5, "categories": ["shoes"]})
    p9 = offer(admin, {"stock": 5, "products": ["p9"]})
    page = {"product_id": "p1", "category": "shoes"}
    assert listed(storefront, everywhere["id"], **page) is not None
    assert listed(storefront, shoes["id"], **page) is not None
    assert listed(storefront, p9["id"], **page) is None
    assert listed(storefront, p9["id"], product_id="p9", category="hats") is not None
    assert listed(storefront, shoes["id"], category="hats") is None
    item = listed(storefront, shoes["id"])  # no page: everything
    assert item["name"] == shoes["name"] and item["discount"] == shoes["discount"]


def test_an_idempotency_key_replays_the_first_answer(admin: httpx.Client, storefront: httpx.Client) -> None:
    created = offer(admin, {"stock": 1})
    customer, key = unique("cust-"), unique("key-")
    first = claim(storefront, created["id"], customer, **{"Idempotency-Key": key})
    again = claim(storefront, created["id"], customer, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert listed(storefront, created["id"])["remaining"] == 0
    # another body with the same key is a conflict; a refusal replays as the same refusal
    refused(
        claim(storefront, created["id"], unique("cust-"), **{"Idempotency-Key": key}), "idempotency_conflict"
    )
    assert listed(storefront, created["id"])["remaining"] == 0


def test_a_refusal_is_replayed_with_its_key_even_after_stock_came_back(
    admin: httpx.Client, storefront: httpx.Client
) -> None:
    created = offer(admin, {"stock": 0})
    customer, key = unique("cust-"), unique("key-")
    refused(claim(storefront, created["id"], customer, **{"Idempotency-Key": key}), "out_of_stock")
    admin.patch(f"/v1/campaigns/{created['id']}", json={"claim": {"stock": 5}})
    refused(claim(storefront, created["id"], customer, **{"Idempotency-Key": key}), "out_of_stock")
    assert claim(storefront, created["id"], customer).status_code == 201


def test_roles_pos_may_not_and_a_store_sees_only_its_own_campaigns(
    admin: httpx.Client, server: Server
) -> None:
    mine = offer(admin, {"stock": 5}, issuer={"type": "store", "store_id": "s-center"})
    theirs = offer(admin, {"stock": 5}, issuer={"type": "store", "store_id": "s-other"})
    with server.client(create_key(server.database_url, "pos")) as pos:
        assert pos.get("/v1/coupon-center").status_code == 403
        assert claim(pos, mine["id"], unique("c-")).status_code == 403
    with server.client(create_key(server.database_url, "store", "s-center")) as store:
        assert listed(store, mine["id"]) is not None
        assert listed(store, theirs["id"]) is None
        assert claim(store, mine["id"], unique("c-")).status_code == 201
        assert claim(store, theirs["id"], unique("c-")).status_code == 403
    with server.client(None) as anonymous:
        assert anonymous.get("/v1/coupon-center").status_code == 401


def test_the_database_holds_one_claim_row_per_coupon(admin: httpx.Client, server: Server) -> None:
    created = offer(admin, {"stock": 3, "per_customer": 2})
    customer = unique("cust-")
    codes = {claim(admin, created["id"], customer).json()["code"] for _ in range(2)}
    engine = create_engine(normalize_url(server.database_url))
    with engine.connect() as conn:
        rows = conn.execute(
            select(claims.c.n, claims.c.code).where(claims.c.campaign_id == created["id"])
        ).all()
        claimed = conn.execute(
            select(claim_offers.c.claimed).where(claim_offers.c.campaign_id == created["id"])
        ).scalar_one()
    engine.dispose()
    assert sorted(n for n, _ in rows) == [1, 2]
    assert {code for _, code in rows} == {c.replace("-", "").upper() for c in codes}
    assert claimed == 2


def test_the_openapi_document_describes_the_coupon_center_and_its_refusals(server: Server) -> None:
    paths = httpx.get(server.base + "/openapi.json").json()["paths"]
    assert "get" in paths["/v1/coupon-center"]
    post = paths["/v1/campaigns/{campaign_id}/claims"]["post"]
    assert "application/problem+json" in post["responses"]["409"]["content"]
    assert "out_of_stock" in post["responses"]["409"]["description"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
