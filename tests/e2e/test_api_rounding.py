"""The one rounding rule of API.md as an outside client meets it: a percent that lands exactly on a
half of a minor unit rounds up on the qualifying total, then caps, then spreads by largest remainder."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.builders import campaign_with_code, cart, line, redeem, unique

THREE_LINES = cart(line("a", 335), line("b", 335), line("c", 335), shipping=0)  # 10 % of 10.05: 1.005


def test_a_percent_on_an_exact_half_is_validated_and_redeemed_rounded_up_on_the_total(
    admin: httpx.Client,
) -> None:
    # given 10 % off with a budget of exactly what one such cart takes
    created, code = campaign_with_code(
        admin, discount={"type": "percent", "percent": 10}, limits={"budget": 101}
    )
    # when the cart is validated, then redeemed
    validated = admin.post("/v1/validations", json={"cart": THREE_LINES, "codes": [code]}).json()
    redeemed = redeem(admin, code, cart=THREE_LINES)
    # then 1.01 (not 1.00 half-down, nor 1.02 rounding each line), spread 34 / 34 / 33
    assert redeemed.status_code == 201, redeemed.text
    for body in (validated, redeemed.json()):
        assert (body["discount"], body["total"]) == (101, 1005 - 101)
        assert [(x["id"], x["discount"]) for x in body["codes"][0]["lines"]] == [
            ("a", 34),
            ("b", 34),
            ("c", 33),
        ]
    assert admin.get(f"/v1/campaigns/{created['id']}").json()["stats"]["budget_used"] == 101


@pytest.mark.parametrize(
    ("percent", "unit_price", "quantity", "expected"),
    [(10, 1005, 1, 101), (50, 1, 1, 1), (12.5, 4, 3, 2), (10, 5, 3, 2), (30, 5, 1, 2)],
)
def test_every_exact_half_rounds_up(
    admin: httpx.Client, percent: float, unit_price: int, quantity: int, expected: int
) -> None:
    _, code = campaign_with_code(admin, discount={"type": "percent", "percent": percent})
    body = {"cart": cart(line("1", unit_price, quantity), shipping=0), "codes": [code]}
    assert admin.post("/v1/validations", json=body).json()["discount"] == expected


def test_a_cap_applies_after_the_exact_half_is_rounded_up(admin: httpx.Client) -> None:
    # given 10 % of 10.05 (1.005), capped at 1.01 and at 1.00
    _, at = campaign_with_code(admin, discount={"type": "percent", "percent": 10, "max_amount": 101})
    _, below = campaign_with_code(admin, discount={"type": "percent", "percent": 10, "max_amount": 100})
    # when each is redeemed on its own order
    answers = [redeem(admin, c, order_id=unique("O"), cart=THREE_LINES).json() for c in (at, below)]
    # then the cap is compared with the rounded 1.01
    assert [a["discount"] for a in answers] == [101, 100]
