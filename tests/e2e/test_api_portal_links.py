"""POST /v1/customers/{id}/portal-links: a short-lived signed link to a customer's pages, for the keys
that act for customers (storefront, admin) only; and the coupon's public URL in GET /v1/coupons/{code}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from couponry.adapters.db.engine import Database
from couponry.services.distribution.links import CouponLinks
from couponry.services.distribution.portal import read_portal_token
from couponry.services.messaging.secrets import signing_key
from tests.e2e.builders import campaign, unique
from tests.serving import Server, create_key


@pytest.fixture(scope="module")
def server_key(server: Server) -> bytes:
    db = Database(server.database_url)
    try:
        return signing_key(db, None)
    finally:
        db.dispose()


def customer(admin: httpx.Client) -> str:
    customer_id = unique("cust-")
    assert admin.put(f"/v1/customers/{customer_id}", json={"email": "a@example.com"}).status_code == 201
    return customer_id


def test_a_storefront_gets_a_signed_link_to_its_customers_pages_for_thirty_minutes(
    server: Server, admin: httpx.Client, server_key: bytes
) -> None:
    # given
    customer_id = customer(admin)
    key = create_key(server.database_url, "storefront")
    # when
    before = datetime.now(UTC)
    with server.client(key) as storefront:
        response = storefront.post(f"/v1/customers/{customer_id}/portal-links")
    # then
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(minutes=29) < expires_at <= before + timedelta(minutes=30, seconds=1)
    url = urlsplit(body["url"])
    assert url.path.startswith("/portal/")
    visit = read_portal_token(server_key, url.path.removeprefix("/portal/"), datetime.now(UTC))
    assert visit is not None and visit.customer_id == customer_id and visit.expires_at == expires_at


def test_an_admin_key_may_ask_for_a_link_too(admin: httpx.Client) -> None:
    assert admin.post(f"/v1/customers/{customer(admin)}/portal-links").status_code == 201


@pytest.mark.parametrize(("role", "store_id"), [("pos", None), ("store", "s1")])
def test_pos_and_store_keys_may_not_open_a_customers_pages(
    server: Server, admin: httpx.Client, role: str, store_id: str | None
) -> None:
    with server.client(create_key(server.database_url, role, store_id)) as client:
        response = client.post(f"/v1/customers/{customer(admin)}/portal-links")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_without_a_key_there_is_no_link(server: Server, admin: httpx.Client) -> None:
    with server.client(None) as anonymous:
        assert anonymous.post(f"/v1/customers/{customer(admin)}/portal-links").status_code == 401


def test_a_link_to_an_unknown_customer_is_not_found(admin: httpx.Client) -> None:
    response = admin.post(f"/v1/customers/{unique('nobody-')}/portal-links")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_contract_documents_the_endpoint(admin: httpx.Client) -> None:
    operation = admin.get("/openapi.json").json()["paths"]["/v1/customers/{customer_id}/portal-links"]
    assert {"201", "401", "403", "404"} <= set(operation["post"]["responses"])


def test_a_personal_coupons_url_carries_its_holders_signed_token(
    admin: httpx.Client, server_key: bytes
) -> None:
    # given
    customer_id = customer(admin)
    created = campaign(admin)
    issued = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer_id}
    )
    [code] = issued.json()["codes"]
    # when
    url = urlsplit(admin.get(f"/v1/coupons/{code}").json()["url"])
    # then
    assert url.path == f"/c/{code}"
    [token] = parse_qs(url.query)["t"]
    links = CouponLinks("http://x", server_key)
    assert links.token_valid(code, customer_id, token)
    assert not links.token_valid(code, "someone-else", token)


def test_an_open_coupons_url_is_its_page_alone(admin: httpx.Client) -> None:
    created = campaign(admin, image_url="https://shop.example/img/winter.png")
    code = unique("OPEN")
    admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]})
    assert created["image_url"] == "https://shop.example/img/winter.png"
    assert urlsplit(admin.get(f"/v1/coupons/{code}").json()["url"]).query == ""


@pytest.mark.parametrize(
    "image_url", ["javascript:alert(1)", "data:image/png;base64,AA", "https://x/a b", "//evil"]
)
def test_a_campaign_image_must_be_a_plain_web_address(admin: httpx.Client, image_url: str) -> None:
    body = {
        "name": "img",
        "currency": "USD",
        "discount": {"type": "amount", "amount": 100},
        "image_url": image_url,
    }
    response = admin.post("/v1/campaigns", json=body)
    assert response.status_code == 422
