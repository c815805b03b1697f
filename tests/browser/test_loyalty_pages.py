"""The loyalty pages in Chromium: an admin sets the program (a validation error shown beside its field
first), adds a reward and a wheel and looks up a customer; a customer joins in the portal, sees the
points, exchanges a reward (the coupon lands in the wallet) and spins the wheel, which lands on the
prize the server recorded; a store user is refused. axe-core on each page, screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from couponry.adapters.db.tables import wheel_spins
from tests.browser.conftest import check_a11y, screenshot, sign_in
from tests.e2e.builders import campaign, unique
from tests.serving import Server, create_key

POINTER_CHECK = """(card) => {
  // the slice under the pointer (at the top) once the wheel has stopped
  const disc = card.querySelector('.wheel-disc');
  const turned = parseFloat(disc.dataset.angle);
  const under = ((-turned % 360) + 360) % 360;
  const slice = [...disc.querySelectorAll('.wheel-seg')].find(
    (s) => parseFloat(s.dataset.start) <= under && under < parseFloat(s.dataset.end));
  return slice ? Number(slice.dataset.position) : null;
}"""


@pytest.fixture(scope="module")
def api(web: Server) -> Iterator[httpx.Client]:
    with web.client(create_key(web.database_url, "admin")) as client:
        yield client


def recorded_spin(web: Server, spin_id: str) -> sa.Row:
    engine = sa.create_engine(web.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(wheel_spins).where(wheel_spins.c.id == spin_id)).one()
    finally:
        engine.dispose()


def test_an_admin_sets_the_program_and_adds_a_reward_and_a_wheel(page, make_user, api: httpx.Client) -> None:
    offer = campaign(api, name="Free espresso", discount={"type": "amount", "amount": 250})
    email, password = make_user("admin")
    sign_in(page, email, password)
    # given: the dashboard's loyalty section
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Loyalty").click()
    expect(page.get_by_role("heading", name="Loyalty program")).to_be_visible()
    check_a11y(page)
    # when: a program with a bad expiry
    page.get_by_label("Points earned").fill("1")
    page.get_by_label("Per spend of").fill("1.00")
    page.get_by_label("A point is worth").fill("0.01")
    page.get_by_label("Pending days").fill("0")
    page.get_by_label("Expiry days").fill("0")
    page.get_by_label("Row 1 factor").fill("2")
    page.get_by_label("Row 1 brands").fill("acme")
    page.get_by_role("button", name="Save program").click()
    # then: the error is beside the field, and nothing was saved
    expect(page.locator("#f-expiry-days-error")).to_contain_text("greater than or equal to 1")
    expect(page.get_by_label("Expiry days")).to_have_attribute("aria-invalid", "true")
    check_a11y(page)
    assert api.get("/v1/loyalty/program").status_code == 404
    # when: corrected
    page.get_by_label("Expiry days").fill("365")
    page.get_by_role("button", name="Save program").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    program = api.get("/v1/loyalty/program").json()
    assert (program["per_amount"], program["expiry_days"], program["multipliers"][0]["brands"]) == (
        100,
        365,
        ["acme"],
    )
    screenshot(page, "loyalty")

    # a reward
    page.get_by_role("navigation", name="Loyalty").get_by_role("link", name="Rewards").click()
    page.get_by_label("Reward name").fill("Espresso on us")
    page.get_by_label("Cost in points").fill("50")
    page.get_by_label("Coupon of campaign").select_option(offer["id"])
    page.get_by_label("Stock").fill("5")
    page.get_by_role("button", name="Add reward").click()
    expect(page.get_by_role("cell", name="Espresso on us")).to_be_visible()
    expect(page.get_by_text("0 of 5 exchanged · 5 left")).to_be_visible()
    check_a11y(page)

    # a wheel: a coupon prize's campaign appears when the kind is chosen
    page.get_by_role("navigation", name="Loyalty").get_by_role("link", name="Prize wheels").click()
    page.get_by_label("Wheel name", exact=True).fill("Daily wheel")
    page.get_by_label("Cost of a spin in points").fill("10")
    page.get_by_label("Prize 1 points").fill("20")
    page.get_by_label("Prize 1 weight").fill("2")
    page.get_by_label("Prize 2 weight").fill("5")
    expect(page.get_by_label("Prize 3 coupon of")).to_be_hidden()
    page.get_by_label("Prize 3", exact=True).select_option("coupon")
    page.get_by_label("Prize 3 coupon of").select_option(offer["id"])
    page.get_by_label("Prize 3 weight").fill("1")
    page.get_by_label("Prize 3 stock").fill("10")
    check_a11y(page)
    page.get_by_role("button", name="Add wheel").click()
    expect(page.get_by_role("heading", name="Daily wheel")).to_be_visible()
    expect(page.get_by_role("cell", name="Coupon: Free espresso (2.50 off)")).to_be_visible()
    [wheel] = api.get("/v1/wheels").json()["items"]
    assert [(p["kind"], p["weight"]) for p in wheel["prizes"]] == [
        ("points", 2),
        ("nothing", 5),
        ("coupon", 1),
    ]
    check_a11y(page)

    # a customer's points, with an adjustment
    customer_id = unique("cust-")
    api.put(f"/v1/customers/{customer_id}", json={"email": f"{customer_id}@example.com"})
    page.get_by_role("navigation", name="Loyalty").get_by_role("link", name="Customer points").click()
    page.get_by_label("Customer id").fill(customer_id)
    page.get_by_role("button", name="Look up").click()
    page.get_by_label("Points", exact=True).fill("15")
    page.get_by_label("Reason").fill("Sorry for the wait")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator(".balance-available")).to_have_text("15")
    expect(page.get_by_role("cell", name="Adjusted by the shop: Sorry for the wait")).to_be_visible()
    check_a11y(page)
    screenshot(page, "loyalty-customer")


def test_a_customer_joins_sees_points_exchanges_a_reward_and_spins_the_wheel(
    page, web: Server, api: httpx.Client
) -> None:
    # given: a program, a reward, a wheel whose spins cost points, and a customer who is not a member
    api.put("/v1/loyalty/program", json={"per_amount": 100, "pending_days": 0})
    offer = campaign(api, name="Half-price cake", discount={"type": "percent", "percent": 50})
    reward = api.post("/v1/rewards", json={"name": "Cake", "points": 40, "campaign_id": offer["id"]}).json()
    wheel = api.post(
        "/v1/wheels",
        json={
            "name": "Lucky wheel",
            "cost_points": 5,
            "free_spins_per_day": 1,
            "prizes": [
                {"kind": "points", "points": 30, "weight": 3},
                {"kind": "coupon", "campaign_id": offer["id"], "weight": 2},
                {"kind": "nothing", "weight": 5},
            ],
        },
    ).json()
    customer_id = unique("cust-")
    api.put(f"/v1/customers/{customer_id}", json={"email": f"{customer_id}@example.com"})
    base = urlsplit(api.post(f"/v1/customers/{customer_id}/portal-links").json()["url"]).path

    # when: they join from the points page
    page.goto(f"{base}/points")
    check_a11y(page)
    page.get_by_role("button", name="Join the rewards program").click()
    expect(page.get_by_role("button", name="Leave the rewards program")).to_be_visible()
    body = {"customer_id": customer_id, "points": 100, "reason": "Welcome gift"}
    assert api.post("/v1/loyalty/adjustments", json=body).status_code == 201
    page.reload()
    # then: the points and their history
    expect(page.locator("#points-available")).to_have_text("100")
    expect(page.get_by_text("Adjusted by the shop: Welcome gift")).to_be_visible()
    check_a11y(page)
    screenshot(page, "portal-points")

    # when: they exchange the reward
    page.get_by_role("link", name="Rewards").click()
    expect(page.get_by_role("button", name="Exchange Cake")).to_be_visible()  # the page is the rewards'
    check_a11y(page)
    page.get_by_role("button", name="Exchange Cake").click()
    # then: the balance goes down and the coupon is in the wallet
    expect(page.locator("#points-available")).to_have_text("60")
    code = page.locator(".exchange-result code").inner_text()
    wallet = api.get(f"/v1/customers/{customer_id}/wallet").json()["items"]
    assert [c["code"] for c in wallet] == [code]
    assert api.get(f"/v1/rewards/{reward['id']}").json()["issued"] == 1
    page.get_by_role("link", name="My coupons").click()
    expect(page.get_by_text(code)).to_be_visible()

    # when: they spin the wheel (the free spin of the day), then once more (for points, no motion)
    page.get_by_role("link", name="Prize wheel").click()
    card = page.locator(f"[data-wheel='{wheel['id']}']")
    expect(card).to_be_visible()  # the wheel's page has replaced the wallet before axe is injected
    check_a11y(page)
    last = None
    for paid in (False, True):
        if paid:
            page.emulate_media(reduced_motion="reduce")
        card.get_by_role("button", name="Spin").click()
        won = card.locator(".spin-result .spin-won")
        expect(won).to_be_visible(timeout=10_000)
        if last is not None:
            expect(won).not_to_have_attribute("data-spin-id", last)
        last = won.get_attribute("data-spin-id")
        # then: the page shows the prize the server recorded, and the wheel stopped on it
        spin = recorded_spin(web, won.get_attribute("data-spin-id"))
        assert spin.customer_id == customer_id and spin.free is (not paid)
        assert int(won.get_attribute("data-position")) == spin.position
        assert card.evaluate(POINTER_CHECK) == spin.position
        expected = {"points": "You won 30 points!", "nothing": "No prize this time."}.get(
            spin.kind, "You won a coupon"
        )
        expect(won).to_contain_text(expected)
        if spin.kind == "coupon":
            assert spin.code in [
                c["code"] for c in api.get(f"/v1/customers/{customer_id}/wallet").json()["items"]
            ]
        expect(card.get_by_role("button", name="Spin")).to_be_enabled()
    balance = api.get(f"/v1/customers/{customer_id}/points").json()["available"]
    expect(page.locator("#points-available")).to_have_text(str(balance))
    check_a11y(page)
    screenshot(page, "portal-wheel")


def test_a_store_user_cannot_open_the_loyalty_dashboard(page, make_user) -> None:
    email, password = make_user("store", "s1")
    sign_in(page, email, password)
    answer = page.goto("/dashboard/loyalty")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("navigation", name="Sections").get_by_role("link", name="Loyalty")).to_have_count(
        0
    )
