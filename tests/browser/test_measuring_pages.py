"""The measuring pages in Chromium: a campaign's results (the API's figures, daily SVG charts, the A/B
test's p-value), the reports page and its CSV download, a store user kept to its own store, and axe
plus screenshots of both pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import check_a11y, screenshot, sign_in
from tests.e2e.builders import campaign, campaign_with_code, cart, line, redeem, unique
from tests.serving import Server, create_key


@pytest.fixture(scope="module")
def api(web: Server) -> Iterator[httpx.Client]:
    with web.client(create_key(web.database_url, "admin")) as client:
        yield client


@pytest.fixture(scope="module")
def ab_campaign(api: httpx.Client) -> dict:
    """An A/B test of 5.00 off against 10.00 off and a control, with 12 customers of whom 8 redeemed."""
    created = campaign(
        api,
        name="Five or ten off",
        discount={"type": "amount", "amount": 500},
        limits={"per_coupon": 1},
        variants=[
            {"name": "five", "discount": {"type": "amount", "amount": 500}, "weight": 1},
            {"name": "ten", "discount": {"type": "amount", "amount": 1000}, "weight": 1},
            {"name": "control", "weight": 1},
        ],
    )
    for n in range(12):
        customer = f"m-{created['id']}-{n}"
        issued = api.post(
            f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer}
        )
        assert issued.status_code == 201, issued.text
        if n % 5 in (0, 1, 3):
            (code,) = issued.json()["codes"]
            answer = redeem(api, code, customer_id=customer, cart=cart(line("1", 4000, 1, store_id="s1")))
            assert answer.status_code == 201, answer.text
    return created


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}


def _figure(page, key: str) -> str:
    return page.locator(f'[data-figure="{key}"]').get_attribute("data-value")


def test_a_campaign_page_shows_the_apis_figures_with_charts_and_the_ab_test(
    page, make_user, api, ab_campaign
) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto(f"/dashboard/campaigns/{ab_campaign['id']}")

    stats = api.get(f"/v1/campaigns/{ab_campaign['id']}/stats", params=_period()).json()
    # the period shown by default is the last 30 days
    assert page.get_by_label("From", exact=True).input_value() == stats["from"]
    assert page.get_by_label("To", exact=True).input_value() == stats["to"]
    for key in ("issued", "claimed", "redeemed", "orders", "revenue", "average_order_value"):
        assert _figure(page, key) == str(stats[key]), key
    for part in ("platform", "store", "total"):
        assert _figure(page, f"discount_cost.{part}") == str(stats["discount_cost"][part])
    assert float(_figure(page, "redemption_rate")) == pytest.approx(stats["redemption_rate"])
    assert float(_figure(page, "roi")) == pytest.approx(stats["roi"])
    assert stats["redeemed"] == 8 and stats["issued"] == 12
    visible = page.locator(".figures").inner_text()
    assert "66.7%" in visible  # 8 of 12 redeemed

    charts = {"redemptions": "redeemed", "revenue": "revenue"}
    for chart, field in charts.items():
        svg = page.locator(f'svg[data-chart="{chart}"]')
        assert svg.is_visible()
        days = [d for d in stats["daily"] if d[field]]
        assert svg.locator("rect.chart-bar").count() == len(days) >= 1
        assert svg.locator("title").first.text_content() in ("Daily redemptions", "Daily revenue")
    cost = page.locator('svg[data-chart="discount-cost"] rect.chart-bar')
    assert cost.count() == len([d for d in stats["daily"] if d["discount_cost"]["total"]])
    bar = page.locator('svg[data-chart="redemptions"] rect.chart-bar').first
    assert bar.get_attribute("data-value") == str(sum(d["redeemed"] for d in stats["daily"]))

    rows = page.locator("#variants tbody tr")
    assert rows.count() == 3
    for v in stats["variants"]:
        row = page.locator(f'#variants tr[data-variant="{v["name"]}"]')
        assert row.locator('td[data-label="Issued"]').inner_text() == str(v["issued"])
        assert row.locator('td[data-label="Redeemed"]').inner_text() == str(v["redeemed"])
    assert page.locator("#p-value").get_attribute("data-p-value") == (
        "" if stats["p_value"] is None else str(stats["p_value"])
    )
    assert "p-value" in page.locator("#p-value").inner_text()
    assert stats["winner"] is None
    assert "No winner yet: the sample is below the minimum" in page.locator("#verdict").inner_text() or (
        stats["p_value"] is None and "nothing to compare" in page.locator("#verdict").inner_text()
    )
    check_a11y(page)
    page.locator("details.chart-table summary").click()
    assert page.locator("details.chart-table table tbody tr").count() == len(
        [d for d in stats["daily"] if d["redeemed"] or d["revenue"] or d["discount_cost"]["total"]]
    )
    check_a11y(page)
    screenshot(page, "campaign-stats")


def test_the_period_picker_shows_another_period(page, make_user, api, ab_campaign) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.goto(f"/dashboard/campaigns/{ab_campaign['id']}")
    page.get_by_label("From", exact=True).fill("2020-01-01")
    page.get_by_label("To", exact=True).fill("2020-01-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(lambda url: "from=2020-01-01" in url)
    assert _figure(page, "redeemed") == "0" and _figure(page, "issued") == "0"
    assert page.locator('svg[data-chart="redemptions"] rect.chart-bar').count() == 0


def test_the_reports_page_downloads_the_apis_csv(page, make_user, api, ab_campaign) -> None:
    store = unique("S")
    _, code = campaign_with_code(api, name="Platform 3 off", discount={"type": "amount", "amount": 300})
    assert redeem(api, code, cart=cart(line("1", 2500, 1, store_id=store))).status_code == 201
    email, password = make_user("admin")
    sign_in(page, email, password)
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url("**/dashboard/reports")
    assert page.get_by_role("link", name="Five or ten off").is_visible()
    assert page.locator(f'#settlement tr[data-store="{store}"]').inner_text().endswith("3.00")

    period = {
        "from": page.get_by_label("From", exact=True).input_value(),
        "to": page.get_by_label("To", exact=True).input_value(),
    }
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the campaigns report (CSV)").click()
    assert Path(download.value.path()).read_text() == api.get("/v1/reports/campaigns.csv", params=period).text
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the settlement (CSV)").click()
    assert (
        Path(download.value.path()).read_text() == api.get("/v1/reports/settlement.csv", params=period).text
    )
    check_a11y(page)
    screenshot(page, "reports")


def test_a_store_user_sees_only_its_own_stores_campaign_stats(page, make_user, api) -> None:
    theirs, their_code = campaign_with_code(
        api, name="Another store's results", issuer={"type": "store", "store_id": "s2"}
    )
    assert redeem(api, their_code, cart=cart(line("1", 3000, 1, store_id="s2"))).status_code == 201
    ours = campaign(api, name="Our results", issuer={"type": "store", "store_id": "s1"})
    email, password = make_user("store", "s1")
    sign_in(page, email, password)

    response = page.goto(f"/dashboard/campaigns/{theirs['id']}")
    assert response.status == 403
    assert page.get_by_text("Another store's results").count() == 0
    assert page.locator("[data-figure]").count() == 0
    page.goto(f"/dashboard/campaigns/{ours['id']}")
    assert _figure(page, "redeemed") == "0"
    page.goto("/dashboard/reports")
    assert page.get_by_role("link", name="Our results").is_visible()
    assert page.get_by_text("Another store's results").count() == 0
    assert page.locator("#settlement tr[data-store='s2']").count() == 0
    check_a11y(page)
