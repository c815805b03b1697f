"""The public coupon page over HTTP: what it shows, who may open a personal coupon's page, and slide to
redeem redeeming once over the POS channel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.builders import campaign, unique
from tests.e2e.page_helpers import csrf_of
from tests.serving import Server


@pytest.fixture
def visitor(server: Server) -> httpx.Client:
    with httpx.Client(base_url=server.base, timeout=60) as client:
        yield client


def open_code(admin: httpx.Client, **spec: object) -> str:
    created = campaign(admin, **spec)
    code = unique("PAGE")
    assert admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]}).status_code == 201
    return code


def personal_link(admin: httpx.Client, **spec: object) -> tuple[str, str]:
    """(code, the holder's page path with its token)."""
    customer_id = unique("cust-")
    created = campaign(admin, **spec)
    issued = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer_id}
    )
    [code] = issued.json()["codes"]
    url = urlsplit(admin.get(f"/v1/coupons/{code}").json()["url"])
    return code, f"{url.path}?{url.query}"


def state_of(html: str) -> list[str]:
    return re.findall(r'class="state-title">([^<]+)<', html)


def slide(client: httpx.Client, page: str, html: str, attempt: str) -> httpx.Response:
    path, _, query = page.partition("?")
    data = {"attempt": attempt, "csrf_token": csrf_of(html)}
    if query:
        data["t"] = query.removeprefix("t=")
    return client.post(f"{path}/redeem", data=data, headers={"HX-Request": "true"})


def test_the_page_shows_the_campaign_its_terms_in_words_the_qr_code_and_the_state(
    admin: httpx.Client, visitor: httpx.Client
) -> None:
    ends = (datetime.now(UTC) + timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    code = open_code(
        admin,
        name="Winter <b>sale</b>",
        discount={"type": "amount", "amount": 1000},
        conditions={"min_spend": 5000},
        validity={"ends_at": ends.isoformat()},
        image_url="https://shop.example/winter.png",
    )
    response = visitor.get(f"/c/{code.lower()}")
    assert response.status_code == 200
    html = response.text
    assert "Winter &lt;b&gt;sale&lt;/b&gt;" in html and "<b>sale" not in html  # autoescaped
    until = (ends - timedelta(days=1)).strftime("%-d %b") + (
        "" if ends.year == datetime.now(UTC).year else f" {ends.year}"
    )
    assert f"10.00 off orders of 50.00 or more, until {until}" in html
    assert (
        '<svg xmlns="http://www.w3.org/2000/svg"' in html
        and f'aria-label="QR code of the coupon code {code}"' in html
    )
    assert 'src="https://shop.example/winter.png"' in html
    assert state_of(html) == ["Valid"]
    assert "slide-thumb" not in html  # an open code used by many is for checkouts, not for one slide
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "img-src 'self' data: https:" in csp and "unsafe-inline" not in csp


def test_a_personal_coupon_opens_only_with_its_holders_signed_link(
    admin: httpx.Client, visitor: httpx.Client
) -> None:
    code, page = personal_link(admin)
    assert visitor.get(f"/c/{code}").status_code == 404
    tampered = page[:-2] + ("AA" if not page.endswith("AA") else "BB")
    assert visitor.get(tampered).status_code == 404
    response = visitor.get(page)
    assert response.status_code == 200 and 'role="slider"' in response.text


def test_slide_to_redeem_redeems_once_and_then_the_page_shows_it_used(
    admin: httpx.Client, visitor: httpx.Client
) -> None:
    # given
    code, page = personal_link(admin, discount={"type": "amount", "amount": 500})
    html = visitor.get(page).text
    # when
    first = slide(visitor, page, html, "attempt-one")
    retried = slide(visitor, page, html, "attempt-one")
    second = slide(visitor, page, html, "attempt-two")
    # then
    assert first.status_code == 200 and state_of(first.text) == ["Redeemed"]
    assert 'data-countdown="60"' in first.text or 'data-countdown="59"' in first.text
    assert state_of(retried.text) == ["Redeemed"]  # the same slide, retried: its own answer again
    assert state_of(second.text) == ["Already used"]
    assert state_of(visitor.get(page).text) == ["Already used"]
    [redemption] = admin.get("/v1/redemptions", params={"order_id": f"coupon-page:{code}"}).json()["items"]
    assert redemption["discount"] == 500 and redemption["customer_id"] is not None


def test_a_single_use_open_coupon_can_be_slid_and_a_shared_one_cannot(
    admin: httpx.Client, visitor: httpx.Client
) -> None:
    single = open_code(admin, limits={"per_coupon": 1})
    html = visitor.get(f"/c/{single}").text
    assert 'role="slider"' in html
    assert state_of(slide(visitor, f"/c/{single}", html, "attempt-single").text) == ["Redeemed"]
    assert state_of(visitor.get(f"/c/{single}").text) == ["Already used"]
    shared = open_code(admin)
    refused = slide(visitor, f"/c/{shared}", visitor.get(f"/c/{shared}").text, "attempt-shared")
    assert state_of(refused.text) == ["Not redeemed"]
    assert admin.get("/v1/redemptions", params={"order_id": f"coupon-page:{shared}"}).json()["items"] == []


def test_a_slide_without_the_pages_csrf_token_is_refused(admin: httpx.Client, visitor: httpx.Client) -> None:
    code, page = personal_link(admin)
    visitor.get(page)
    response = visitor.post(f"/c/{code}/redeem", data={"attempt": "attempt-nocsrf", "t": page.split("t=")[1]})
    assert response.status_code == 403
    assert admin.get("/v1/redemptions", params={"order_id": f"coupon-page:{code}"}).json()["items"] == []


def test_an_expired_coupon_and_one_not_started_say_so(admin: httpx.Client, visitor: httpx.Client) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    expired = open_code(
        admin, validity={"starts_at": (past - timedelta(days=5)).isoformat(), "ends_at": past.isoformat()}
    )
    assert state_of(visitor.get(f"/c/{expired}").text) == ["Expired"]
    later = datetime.now(UTC) + timedelta(days=3)
    future = open_code(admin, validity={"starts_at": later.isoformat()})
    assert state_of(visitor.get(f"/c/{future}").text) == ["Not valid yet"]


def test_a_coupon_only_for_online_orders_says_why_in_words(
    admin: httpx.Client, visitor: httpx.Client
) -> None:
    code = open_code(admin, conditions={"channels": ["online"]})
    html = visitor.get(f"/c/{code}").text
    assert state_of(html) == ["Not usable now"] and "cannot be used in shops: use it online" in html
