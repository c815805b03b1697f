"""The marketer dashboard in Chromium: the campaign form with a server-side error shown beside its
field, codes generated with a live progress bar, the security rules, and axe plus screenshots of every
dashboard page at desktop and phone width."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import check_a11y, screenshot, sign_in
from tests.serving import Server, create_key


@pytest.fixture(scope="module")
def api(web: Server) -> Iterator[httpx.Client]:
    with web.client(create_key(web.database_url, "admin")) as client:
        yield client


def _campaign(api: httpx.Client, **fields: object) -> dict:
    body = {"name": "Spend 50 get 10", "currency": "USD", "discount": {"type": "amount", "amount": 1000}}
    created = api.post("/v1/campaigns", json={**body, **fields})
    assert created.status_code == 201, created.text
    return created.json()


def test_creating_a_campaign_through_the_form_shows_a_validation_error_beside_its_field(
    page, make_user, api
) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Spend 50 get 10 (browser)")
    page.get_by_label("Type").select_option("amount")
    page.get_by_label("Amount off").fill("10.00")
    page.get_by_label("Minimum spend").fill("5.00")  # below the discount: refused by the domain rules
    page.get_by_label("Redemptions in total").fill("500")
    page.get_by_label("Discount budget").fill("2500.00")
    page.get_by_role("button", name="Create campaign").click()

    error = page.locator("#f-discount-amount-error")
    assert "must be below its min_spend" in error.inner_text()
    assert page.get_by_label("Amount off").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Amount off").input_value() == "10.00"  # what was typed is kept
    check_a11y(page)
    screenshot(page, "campaign-form-error")

    page.get_by_label("Minimum spend").fill("50.00")
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(re.compile(r"/dashboard/campaigns/\w+\?saved=1$"))
    assert page.get_by_role("heading", name="Spend 50 get 10 (browser)").is_visible()
    assert "10.00 off orders of 50.00 or more" in page.inner_text("main")
    campaign_id = page.url.split("/")[-1].split("?")[0]
    stored = api.get(f"/v1/campaigns/{campaign_id}").json()
    assert stored["conditions"]["min_spend"] == 5000 and stored["limits"]["budget"] == 250000


def test_editing_a_percent_campaign_keeps_what_the_form_does_not_show_changed(page, make_user, api) -> None:
    campaign = _campaign(
        api,
        name="Happy hour",
        discount={"type": "percent", "percent": 15, "max_amount": 2000},
        conditions={
            "time_windows": [
                {"days": ["mon", "fri"], "start": "14:00", "end": "17:00", "timezone": "Europe/Oslo"}
            ],
            "channels": ["pos"],
        },
        scope={"categories": ["shoes", "bags"], "exclude_on_sale": True},
    )
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto(f"/dashboard/campaigns/{campaign['id']}/edit")
    assert page.get_by_label("Percent off").input_value() == "15"
    page.get_by_label("Largest discount").fill("25.00")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"\?saved=1$"))
    stored = api.get(f"/v1/campaigns/{campaign['id']}").json()
    assert stored["discount"]["max_amount"] == 2500
    assert stored["conditions"]["time_windows"] == campaign["conditions"]["time_windows"]
    assert stored["conditions"]["channels"] == ["pos"]
    assert stored["scope"]["categories"] == ["shoes", "bags"] and stored["scope"]["exclude_on_sale"] is True


def test_generating_many_codes_shows_a_progress_bar_until_the_job_is_done(page, make_user, api) -> None:
    campaign = _campaign(api, name="Mailing codes", code_config={"length": 12, "prefix": "ML-"})
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto(f"/dashboard/campaigns/{campaign['id']}")
    page.get_by_label("Generate codes").fill("30000")
    page.get_by_role("button", name="Generate").click()
    bar = page.get_by_role("progressbar")
    bar.wait_for()  # the job's bar appears at once, before the job has run
    assert bar.get_attribute("max") == "30000"
    seen = set()
    for _ in range(120):
        seen.add(int(float(bar.get_attribute("value") or 0)))
        if page.get_by_text("— done").is_visible():
            break
        page.wait_for_timeout(250)
    assert page.get_by_text("30000 of 30000 — done").is_visible()
    assert 30000 in seen and len(seen) >= 2  # it moved while we watched
    check_a11y(page)
    screenshot(page, "campaign-codes")
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["stats"]["coupons"] == 30000
    with page.expect_download() as download:
        page.get_by_role("link", name="Export every code (CSV)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "code,campaign_id,customer_id" and len(lines) == 30001
    assert all(line.startswith("ML-") for line in lines[1:])


def test_a_form_post_without_its_csrf_token_is_refused(page, make_user, api) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto("/dashboard/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Forged")
    page.get_by_label("Amount off").fill("1.00")
    page.evaluate("() => document.querySelector('main input[name=csrf_token]').remove()")
    page.get_by_role("button", name="Create campaign").click()
    assert page.get_by_role("heading", name="Form expired").is_visible()
    names = [c["name"] for c in api.get("/v1/campaigns", params={"limit": 200}).json()["items"]]
    assert "Forged" not in names


def test_a_store_user_cannot_open_another_stores_campaign_by_url(page, make_user, api) -> None:
    theirs = _campaign(api, name="Other store's secret sale", issuer={"type": "store", "store_id": "s2"})
    _campaign(api, name="Our store sale", issuer={"type": "store", "store_id": "s1"})
    email, password = make_user("store", "s1")
    sign_in(page, email, password)
    assert page.get_by_role("link", name="Our store sale").is_visible()
    assert page.get_by_text("Other store's secret sale").count() == 0
    response = page.goto(f"/dashboard/campaigns/{theirs['id']}")
    assert response.status == 403
    assert page.get_by_text("Other store's secret sale").count() == 0
    check_a11y(page)


def test_an_xss_payload_in_a_campaign_name_is_shown_as_text(page, make_user, api) -> None:
    payload = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    campaign = _campaign(api, name=payload)
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto(f"/dashboard/campaigns/{campaign['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == payload
    page.goto("/dashboard")
    assert page.get_by_role("link", name=payload).is_visible()
    assert page.evaluate("() => window.pwned") is None


def test_every_dashboard_page_passes_axe_and_is_photographed(page, make_user, api) -> None:
    spend = _campaign(
        api,
        name="Spend 100 get 10",
        conditions={"min_spend": 10000},
        limits={"max_redemptions": 1000, "budget": 500000},
    )
    _campaign(
        api,
        name="Welcome 10%",
        discount={"type": "percent", "percent": 10, "max_amount": 1500},
        limits={"max_redemptions": 200},
        status="paused",
    )
    _campaign(api, name="Free shipping to the mainland", discount={"type": "free_shipping"})
    code = api.post(f"/v1/campaigns/{spend['id']}/coupons", json={"codes": ["SPEND100"]}).json()["codes"][0]
    redeemed = api.post(
        "/v1/redemptions",
        json={
            "order_id": "order-1",
            "codes": [code],
            "cart": {
                "currency": "USD",
                "lines": [{"id": "l1", "product_id": "p1", "unit_price": 12000, "quantity": 1}],
            },
        },
    )
    assert redeemed.status_code in (200, 201), redeemed.text
    email, password = make_user("admin")
    sign_in(page, email, password)
    pages = {
        "dashboard": "/dashboard",
        "campaign": f"/dashboard/campaigns/{spend['id']}",
        "campaign-new": "/dashboard/campaigns/new",
        "campaign-edit": f"/dashboard/campaigns/{spend['id']}/edit",
        "code-lookup": "/dashboard/codes?code=spend100",
        "keys": "/dashboard/keys",
        "users": "/dashboard/users",
    }
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, path
        check_a11y(page)
        screenshot(page, name)
    page.goto("/dashboard/codes?code=spend100")
    assert "order-1" in page.inner_text("main")
