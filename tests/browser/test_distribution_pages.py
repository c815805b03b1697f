"""The dashboard's distribution pages in Chromium: the segment builder's live member count, a
publication's progress, triggers, the coupon center and the referral program; axe and screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import check_a11y, screenshot, sign_in
from tests.serving import Server, create_key


@pytest.fixture(scope="module")
def api(web: Server) -> Iterator[httpx.Client]:
    with web.client(create_key(web.database_url, "admin")) as client:
        for i in range(30):
            answer = client.put(
                f"/v1/customers/c{i}",
                json={
                    "email": f"c{i}@example.com",
                    "tags": ["vip"] if i % 3 == 0 else [],
                    "marketing_consent": True,
                },
            )
            assert answer.status_code in (200, 201), answer.text
        yield client


def _campaign(api: httpx.Client, name: str, **fields: object) -> dict:
    body = {"name": name, "currency": "USD", "discount": {"type": "amount", "amount": 500}, **fields}
    created = api.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def test_the_segment_builder_counts_members_live_and_saves_the_segment(page, make_user, api) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto("/dashboard/segments")
    page.get_by_label("Name", exact=True).fill("VIP customers")
    page.get_by_label("Rule 1 field").select_option("tags")
    page.get_by_label("Rule 1 comparison").select_option("contains")
    page.get_by_label("Rule 1 value").fill("vip")
    count = page.locator("#segment-count")
    count.get_by_text("10 customers match now.").wait_for()
    page.get_by_label("Rule 2 field").select_option("order_count")
    page.get_by_label("Rule 2 comparison").select_option("gte")
    page.get_by_label("Rule 2 value").fill("x")
    count.get_by_text("Rule 2: a whole number").wait_for()
    page.get_by_label("Rule 2 value").fill("0")
    count.get_by_text("10 customers match now.").wait_for()
    check_a11y(page)
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url("**/dashboard/segments")
    assert page.get_by_role("cell", name="VIP customers").is_visible()
    screenshot(page, "segments")


def test_a_publication_shows_its_progress_and_every_distribution_page_passes_axe(
    page, make_user, api
) -> None:
    campaign = _campaign(api, "Newsletter 5 off")
    _campaign(api, "Claim me", claim={"stock": 100, "per_customer": 1})
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto("/dashboard/publications")
    page.get_by_label("Campaign").select_option(campaign["id"])
    page.get_by_label("Or to these customers").fill("c1, c2, c3")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/dashboard/publications")
    page.get_by_text("3 of 3 customers · 3 coupons issued").wait_for(timeout=30_000)
    check_a11y(page)
    screenshot(page, "publications")

    page.goto("/dashboard/triggers")
    page.get_by_label("When").select_option("order.completed")
    page.get_by_label("Order amount at least").fill("100.00")
    page.get_by_label("Newsletter 5 off (active)").check()
    page.get_by_role("button", name="Create trigger").click()
    page.wait_for_url("**/dashboard/triggers")
    assert "An order is completed (100.00 or more)" in page.inner_text("main")
    check_a11y(page)
    screenshot(page, "triggers")

    page.goto("/dashboard/coupon-center")
    assert page.get_by_role("link", name="Claim me").is_visible()
    check_a11y(page)
    screenshot(page, "coupon-center")

    page.goto("/dashboard/referrals")
    page.get_by_label("Reward when the invitee").select_option("first_order")
    page.get_by_label("Coupon for the invitee").select_option(campaign["id"])
    page.get_by_role("button", name="Save program").click()
    assert page.get_by_role("status").inner_text() == "Saved."
    assert api.get("/v1/referral-program").json()["invitee_campaign_id"] == campaign["id"]
    check_a11y(page)
    screenshot(page, "referrals")
