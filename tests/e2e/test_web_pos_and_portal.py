"""The POS page and the customer's pages over HTTP: who may open them, checks in words, one redemption
per attempt at the till, claims from the coupon center, and portal links that expire or were altered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from couponry.adapters.db.engine import Database
from couponry.services.distribution.portal import portal_token
from couponry.services.messaging.secrets import signing_key
from tests.e2e.builders import campaign, unique
from tests.e2e.page_helpers import csrf_of, signed_in
from tests.serving import Server


@pytest.fixture(scope="module")
def till(server: Server) -> Iterator[httpx.Client]:
    client = signed_in(server, "pos")
    yield client
    client.close()


def verdict(html: str) -> tuple[list[str], list[str]]:
    return re.findall(r'verdict-title">([^<]+)<', html), re.findall(
        r'verdict-(?:reason|discount)">([^<]+)<', html
    )


def check(client: httpx.Client, code: str, amount: str = "") -> httpx.Response:
    token = csrf_of(client.get("/pos").text)
    return client.post("/pos/check", data={"code": code, "amount": amount, "csrf_token": token})


def open_code(admin: httpx.Client, **spec: object) -> str:
    created = campaign(admin, **spec)
    code = unique("POS")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return code


def test_the_pos_page_is_for_signed_in_staff(server: Server, till: httpx.Client) -> None:
    with httpx.Client(base_url=server.base) as visitor:
        response = visitor.get("/pos")
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=/pos")
    page = till.get("/pos")
    assert page.status_code == 200 and 'id="pos-code"' in page.text and "jsqr-1.4.0.js" in page.text


def test_a_check_shows_the_discount_on_the_amount_or_why_not_in_words(
    admin: httpx.Client, till: httpx.Client
) -> None:
    code = open_code(admin, discount={"type": "percent", "percent": 10}, conditions={"min_spend": 5000})
    assert verdict(check(till, code.lower(), "80.00").text) == (["Valid"], ["8.00 USD"])
    assert verdict(check(till, code, "49.99").text) == (
        ["Not valid"],
        ["The amount is below the minimum spend of 50.00."],
    )
    assert verdict(check(till, "NO-SUCH-CODE").text) == (
        ["Not valid"],
        ["There is no coupon with this code."],
    )
    assert verdict(check(till, code, "ten").text)[1] == ["Type the amount as a number, like 12.50."]


def test_a_double_tap_on_redeem_redeems_once(admin: httpx.Client, till: httpx.Client) -> None:
    # given
    code = open_code(admin, discount={"type": "amount", "amount": 700})
    checked = check(till, code, "30")
    attempt = re.search(r'name="attempt" value="([^"]+)"', checked.text).group(1)
    form = {"code": code, "amount": "30", "attempt": attempt, "csrf_token": csrf_of(checked.text)}
    # when
    first = till.post("/pos/redeem", data=form)
    second = till.post("/pos/redeem", data=form)
    # then
    ids = [re.findall(r"redemption (\w+)", r.text) for r in (first, second)]
    assert verdict(first.text)[0] == ["Redeemed"] and ids[0] == ids[1] and ids[0]
    redemption = admin.get(f"/v1/redemptions/{ids[0][0]}").json()
    assert redemption["discount"] == 700 and redemption["total"] == 2300
    assert redemption["order_id"].startswith("pos:")


def test_a_single_use_coupon_redeemed_at_the_till_is_refused_the_next_time(
    admin: httpx.Client, till: httpx.Client
) -> None:
    code = open_code(admin, limits={"per_coupon": 1})
    for expected in (["Redeemed"], ["Not redeemed"]):
        checked = check(till, code, "20")
        attempt = re.search(r'name="attempt" value="([^"]+)"', checked.text)
        if attempt is None:  # already refused at the check
            assert verdict(checked.text) == (["Not valid"], ["This coupon has already been used."])
            continue
        form = {
            "code": code,
            "amount": "20",
            "attempt": attempt.group(1),
            "csrf_token": csrf_of(checked.text),
        }
        assert verdict(till.post("/pos/redeem", data=form).text)[0] == expected


def test_another_stores_coupon_is_unknown_to_a_store_till(server: Server, admin: httpx.Client) -> None:
    code = open_code(admin, issuer={"type": "store", "store_id": "s-other"})
    store_till = signed_in(server, "store", "s-mine")
    try:
        assert verdict(check(store_till, code, "20").text)[1] == ["There is no coupon with this code."]
    finally:
        store_till.close()


# --- the customer's pages ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_key(server: Server) -> bytes:
    db = Database(server.database_url)
    try:
        return signing_key(db, None)
    finally:
        db.dispose()


def customer_with_link(admin: httpx.Client) -> tuple[str, str]:
    customer_id = unique("cust-")
    admin.put(f"/v1/customers/{customer_id}", json={"email": "c@example.com"})
    return customer_id, urlsplit(admin.post(f"/v1/customers/{customer_id}/portal-links").json()["url"]).path


def test_the_wallet_lists_the_customers_coupons_with_their_signed_pages(
    admin: httpx.Client, server: Server
) -> None:
    customer_id, path = customer_with_link(admin)
    created = campaign(admin, name=unique("Wallet "), discount={"type": "percent", "percent": 20})
    [code] = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer_id}
    ).json()["codes"]
    with httpx.Client(base_url=server.base) as visitor:
        html = visitor.get(path).text
        assert f"{created['name']}: 20% off" in html
        page = re.search(rf'href="(/c/{code}\?t=[^"]+)"', html).group(1)
        assert visitor.get(page).status_code == 200


def test_a_customer_claims_from_the_coupon_center_once_per_click(admin: httpx.Client, server: Server) -> None:
    # given
    customer_id, path = customer_with_link(admin)
    offer = campaign(admin, name=unique("Center "), claim={"stock": 10})
    with httpx.Client(base_url=server.base) as visitor:
        html = visitor.get(f"{path}/coupon-center").text
        action = f"{path}/claims/{offer['id']}"
        form = re.search(rf'action="{re.escape(action)}".*?name="attempt" value="([^"]+)"', html, re.S)
        data = {"attempt": form.group(1), "csrf_token": csrf_of(html)}
        # when
        first = visitor.post(action, data=data)
        double = visitor.post(action, data=data)
        again = visitor.post(action, data={**data, "attempt": data["attempt"] + "x"})
    # then
    codes = [re.findall(r"<code>([^<]+)</code>", r.text) for r in (first, double)]
    assert codes[0] == codes[1] and codes[0]
    assert "You have claimed this already." in again.text
    wallet = admin.get(f"/v1/customers/{customer_id}/wallet").json()["items"]
    assert [c["code"] for c in wallet] == codes[0]


def test_an_expired_or_altered_portal_link_shows_no_ones_pages(
    admin: httpx.Client, server: Server, server_key: bytes
) -> None:
    customer_id, path = customer_with_link(admin)
    expired = portal_token(server_key, customer_id, datetime.now(UTC) - timedelta(seconds=1))
    token = path.removeprefix("/portal/")
    customer_part, expires, mac = token.split(".")
    longer = f"{customer_part}.{int(expires) + 3600}.{mac}"
    with httpx.Client(base_url=server.base) as visitor:
        assert visitor.get(path).status_code == 200
        for bad in (expired, longer, token[:-2] + "xx", "garbage"):
            response = visitor.get(f"/portal/{bad}")
            assert response.status_code == 404 and "expired or is not valid" in response.text
            assert visitor.get(f"/portal/{bad}/coupon-center").status_code == 404
