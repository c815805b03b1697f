"""The public pages in a real browser: the coupon page and its QR code read back from a screenshot,
slide to redeem with its countdown (and a second slide refused), the POS page scanning a QR code from
Chromium's fake camera and redeeming it once, a customer claiming from the coupon center; axe-core on
each page and screenshots at desktop and phone width."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from couponry.adapters.qr import qr_code
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, check_a11y, screenshot, sign_in
from tests.e2e.builders import campaign, unique
from tests.serving import Server, create_key


@pytest.fixture(scope="module")
def admin(web: Server) -> Iterator[httpx.Client]:
    with web.client(create_key(web.database_url, "admin")) as client:
        yield client


def personal_page(admin: httpx.Client, **spec: object) -> tuple[str, str]:
    """(code, the path of its holder's page, with the signed token)."""
    customer_id = unique("cust-")
    created = campaign(admin, name=spec.pop("name", "Winter sale"), **spec)
    issued = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": customer_id}
    )
    [code] = issued.json()["codes"]
    url = urlsplit(admin.get(f"/v1/coupons/{code}").json()["url"])
    return code, f"{url.path}?{url.query}"


def decode_qr(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_coupon_pages_qr_code_reads_back_as_the_code(page, admin: httpx.Client) -> None:
    code, path = personal_page(
        admin, discount={"type": "amount", "amount": 1000}, conditions={"min_spend": 5000}, name="Winter sale"
    )
    page.goto(path)
    expect(page.get_by_role("heading", name="10.00 off", exact=True)).to_be_visible()
    expect(page.get_by_text("10.00 off orders of 50.00 or more")).to_be_visible()
    assert decode_qr(page.locator("#coupon-qr").screenshot()) == [code]
    assert decode_qr(page.screenshot(full_page=True)) == [code]  # found in the whole page too
    check_a11y(page)
    screenshot(page, "coupon-page")


def test_slide_to_redeem_shows_a_countdown_and_a_second_slide_is_refused(page, admin: httpx.Client) -> None:
    # given: the page open twice, as on two phones
    code, path = personal_page(admin, discount={"type": "percent", "percent": 20, "max_amount": 1500})
    page.goto(path)
    other = page.context.new_page()
    other.goto(path)
    # when: the customer drags the slider to its end
    thumb = page.get_by_role("slider", name="Slide to redeem")
    box = thumb.bounding_box()
    track = page.locator(".slide-track").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + track["width"] * step / 10, box["y"] + box["height"] / 2)
    page.mouse.up()
    # then: a confirmation with its time and a countdown that runs
    expect(page.get_by_role("heading", name="Redeemed", exact=True)).to_be_visible()
    assert page.locator(".confirmation-time").inner_text().endswith("UTC")
    start = int(page.locator("#countdown-number").inner_text())
    assert 55 <= start <= 60
    page.wait_for_function(
        "start => Number(document.getElementById('countdown-number').textContent) <= start - 2", arg=start
    )
    check_a11y(page)
    screenshot(page, "coupon-redeemed")
    # and: the second page's slide (by keyboard: End) is refused, a reload shows the coupon used
    other.get_by_role("slider", name="Slide to redeem").press("End")
    expect(other.get_by_role("heading", name="Already used", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Already used", exact=True)).to_be_visible()
    assert page.get_by_role("slider").count() == 0
    [redemption] = admin.get("/v1/redemptions", params={"order_id": f"coupon-page:{code}"}).json()["items"]
    assert redemption["discount"] == 1500  # the face value: the capped percent
    other.close()


def test_the_slider_works_with_arrow_keys(page, admin: httpx.Client) -> None:
    _, path = personal_page(admin)
    page.goto(path)
    slider = page.get_by_role("slider", name="Slide to redeem")
    slider.press("ArrowRight")
    assert slider.get_attribute("aria-valuenow") == "10"
    slider.press("ArrowLeft")
    assert slider.get_attribute("aria-valuenow") == "0"
    for _ in range(10):
        slider.press("ArrowRight")
    expect(page.get_by_role("heading", name="Redeemed", exact=True)).to_be_visible()


def y4m_of(text: str, path: Path, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """A YUV4MPEG2 video showing the QR code of `text` (grey: U = V = 128) for Chromium's fake camera."""
    out = io.BytesIO()
    qr_code(text).save(out, kind="png", scale=10, border=4)
    symbol = Image.open(io.BytesIO(out.getvalue())).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(symbol, ((width - symbol.width) // 2, (height - symbol.height) // 2))
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return path


def test_the_pos_page_scans_a_qr_code_from_the_camera_and_redeems_it_once(
    browser, web: Server, make_user, admin: httpx.Client, tmp_path: Path
) -> None:
    # given: a coupon that could be used twice, and a camera that shows its QR code
    created = campaign(
        admin, name="Till 5 off", discount={"type": "amount", "amount": 500}, limits={"per_coupon": 2}
    )
    code = unique("TILL")
    admin.post(f"/v1/campaigns/{created['id']}/coupons", json={"codes": [code]})
    video = y4m_of(code, tmp_path / "qr.y4m")
    camera_args = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera_args])
    problems: list[str] = []
    try:
        context = camera.new_context(base_url=web.base, viewport={"width": 360, "height": 740})
        context.grant_permissions(["camera"], origin=web.base)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
        sign_in(page, *make_user("pos"))
        page.goto("/pos")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # fits a 360-pixel phone
        check_a11y(page)
        page.get_by_label("Amount of the purchase").fill("25.00")
        # when: staff scan the code
        page.get_by_role("button", name="Scan QR code").click()
        # then: it is checked at once
        expect(page.get_by_role("heading", name="Valid", exact=True)).to_be_visible()
        assert page.get_by_label("Coupon code").input_value() == code
        assert page.locator(".verdict-discount").inner_text() == "5.00 USD"
        screenshot(page, "pos-valid")
        # and: a double tap on Redeem redeems once
        page.get_by_role("button", name="Redeem").dblclick()
        expect(page.get_by_role("heading", name="Redeemed", exact=True)).to_be_visible()
        check_a11y(page)
        page.wait_for_timeout(500)  # let a second request, had there been one, land
        assert admin.get(f"/v1/coupons/{code}").json()["redeemed_count"] == 1
        context.close()
    finally:
        camera.close()
    assert problems == []


def test_a_customer_claims_from_the_coupon_center(page, admin: httpx.Client) -> None:
    # given: a customer sent from the shop with a portal link
    customer_id = unique("cust-")
    admin.put(f"/v1/customers/{customer_id}", json={"email": "c@example.com", "name": "Ada"})
    offer = campaign(admin, name="Flash 15%", discount={"type": "percent", "percent": 15}, claim={"stock": 3})
    path = urlsplit(admin.post(f"/v1/customers/{customer_id}/portal-links").json()["url"]).path
    page.goto(path)
    expect(page.get_by_role("heading", name="My coupons", exact=True)).to_be_visible()
    check_a11y(page)
    # when: they open the coupon center and claim
    page.get_by_role("link", name="Coupon center").click()
    expect(page.get_by_text("Flash 15%: 15% off")).to_be_visible()
    check_a11y(page)
    screenshot(page, "portal-coupon-center")
    page.locator(f"form[action$='/claims/{offer['id']}'] button").click()
    # then: the coupon is theirs, in the wallet and on its page
    claimed = page.locator(".claimed code").inner_text()
    assert [c["code"] for c in admin.get(f"/v1/customers/{customer_id}/wallet").json()["items"]] == [claimed]
    page.get_by_role("link", name="My coupons").click()
    expect(page.get_by_text("Flash 15%: 15% off")).to_be_visible()
    screenshot(page, "portal-wallet")
    page.get_by_role("link", name="Open Flash 15%").click()
    expect(page.get_by_role("slider", name="Slide to redeem")).to_be_visible()
    page.set_viewport_size(DESKTOP)
