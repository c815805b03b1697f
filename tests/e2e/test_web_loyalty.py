"""The loyalty pages over HTTP: the dashboard's forms (CSRF required, bad input shown beside its field
with nothing written) and the customer's pages (joining, exchanges and spins refused in words)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.builders import campaign, unique
from tests.e2e.page_helpers import csrf_of, signed_in
from tests.serving import Server

PROGRAM = {"earn_points": 1, "per_amount": 100, "point_value": 1, "pending_days": 0, "expiry_days": 365}


@pytest.fixture(scope="module")
def marketer(server: Server) -> Iterator[httpx.Client]:
    client = signed_in(server, "admin")
    yield client
    client.close()


@pytest.fixture
def program(admin: httpx.Client) -> dict:
    answer = admin.put("/v1/loyalty/program", json=PROGRAM)
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token})


def field_error(html: str, field: str) -> str:
    """The message shown beside a field (macros.html: <span class="error" id="f-NAME-error">)."""
    name = field.replace(".", "-").replace("_", "-")
    found = re.search(rf'id="f-{name}-error">([^<]+)<', html)
    assert found, f"no error beside {field}"
    return found.group(1)


def ledger(admin: httpx.Client, customer_id: str) -> list[dict]:
    return admin.get(f"/v1/customers/{customer_id}/points/ledger").json()["items"]


def member(admin: httpx.Client, points: int = 0) -> str:
    customer_id = unique("cust-")
    assert admin.put(f"/v1/customers/{customer_id}", json={"email": f"{customer_id}@example.com"}).is_success
    assert admin.post(f"/v1/customers/{customer_id}/loyalty").status_code == 201
    if points:
        body = {"customer_id": customer_id, "points": points, "reason": "welcome"}
        assert admin.post("/v1/loyalty/adjustments", json=body).status_code == 201
    return customer_id


def portal_path(admin: httpx.Client, customer_id: str) -> str:
    return urlsplit(admin.post(f"/v1/customers/{customer_id}/portal-links").json()["url"]).path


# --- the dashboard --------------------------------------------------------------------------------


def test_a_store_user_cannot_open_the_loyalty_pages(server: Server) -> None:
    store = signed_in(server, "store", "s1")
    try:
        for path in ("/dashboard/loyalty", "/dashboard/loyalty/rewards", "/dashboard/loyalty/customers"):
            assert store.get(path).status_code == 403
        assert 'href="/dashboard/loyalty"' not in store.get("/dashboard").text
    finally:
        store.close()


def test_the_program_form_without_its_csrf_token_is_refused_and_changes_nothing(
    marketer: httpx.Client, admin: httpx.Client, program: dict
) -> None:
    sent = {
        **{k: str(v) for k, v in PROGRAM.items()},
        "earn_points": "7",
        "per_amount": "1.00",
        "point_value": "0.01",
    }
    assert marketer.post("/dashboard/loyalty", data=sent).status_code == 403
    assert admin.get("/v1/loyalty/program").json()["earn_points"] == PROGRAM["earn_points"]


def test_the_program_form_saves_through_the_api_rules(marketer: httpx.Client, admin: httpx.Client) -> None:
    form = {
        "earn_points": "2",
        "per_amount": "10.00",
        "point_value": "0.05",
        "pending_days": "14",
        "expiry_days": "400",
        "multipliers.0.factor": "2",
        "multipliers.0.brands": "acme, zeta",
        "multipliers.1.factor": "",
        "multipliers.1.products": "",
    }
    answer = post(marketer, "/dashboard/loyalty", "/dashboard/loyalty", form)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/loyalty?saved=1"
    saved = admin.get("/v1/loyalty/program").json()
    assert (saved["earn_points"], saved["per_amount"], saved["point_value"]) == (2, 1000, 5)
    assert (saved["pending_days"], saved["expiry_days"]) == (14, 400)
    assert saved["multipliers"] == [
        {"products": [], "categories": [], "brands": ["acme", "zeta"], "factor": 2}
    ]
    page = marketer.get("/dashboard/loyalty").text
    assert 'value="acme, zeta"' in page and 'value="0.05"' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("earn_points", "1.5", "must be a whole number"),
        ("expiry_days", "0", "greater than or equal to 1"),
        ("per_amount", "ten", "must be an amount such as 12.50"),
        ("multipliers.0.factor", "0", "greater than 0"),
    ],
)
def test_bad_program_input_is_shown_beside_its_field_and_nothing_is_saved(
    marketer: httpx.Client, admin: httpx.Client, program: dict, field: str, value: str, message: str
) -> None:
    form = {**{k: str(v) for k, v in PROGRAM.items()}, "per_amount": "1.00", "point_value": "0.01"}
    form.update({"multipliers.0.categories": "shoes", "multipliers.0.factor": "2", field: value})
    answer = post(marketer, "/dashboard/loyalty", "/dashboard/loyalty", form)
    assert answer.status_code == 422
    assert message in field_error(answer.text, field)
    assert f'value="{value}"' in answer.text  # what was typed is shown again
    assert admin.get("/v1/loyalty/program").json()["updated_at"] == program["updated_at"]


def test_a_multiplier_that_names_nothing_is_refused_beside_its_row(
    marketer: httpx.Client, admin: httpx.Client, program: dict
) -> None:
    form = {**{k: str(v) for k, v in PROGRAM.items()}, "per_amount": "1.00", "point_value": "0.01"}
    form.update({"multipliers.0.factor": "", "multipliers.1.factor": "3"})
    answer = post(marketer, "/dashboard/loyalty", "/dashboard/loyalty", form)
    assert answer.status_code == 422
    assert field_error(answer.text, "multipliers.1.products") == "name products, categories or brands"
    assert admin.get("/v1/loyalty/program").json()["updated_at"] == program["updated_at"]


def test_an_adjustment_goes_to_the_ledger_and_a_bad_one_leaves_it_unchanged(
    marketer: httpx.Client, admin: httpx.Client, program: dict
) -> None:
    # given: a member with 30 points
    customer_id = member(admin, 30)
    page = f"/dashboard/loyalty/customers?customer_id={customer_id}"
    action = "/dashboard/loyalty/customers/adjustments"
    before = ledger(admin, customer_id)
    # when / then: without the CSRF token, with a fraction, and taking more than there is: refused
    assert (
        marketer.post(action, data={"customer_id": customer_id, "points": "5", "reason": "x"}).status_code
        == 403
    )
    bad = post(marketer, page, action, {"customer_id": customer_id, "points": "2.5", "reason": "oops"})
    assert bad.status_code == 422 and field_error(bad.text, "points") == "must be a whole number"
    over = post(marketer, page, action, {"customer_id": customer_id, "points": "-31", "reason": "broken cup"})
    assert over.status_code == 422 and "fewer than 31 points available" in field_error(over.text, "points")
    silent = post(marketer, page, action, {"customer_id": customer_id, "points": "5", "reason": ""})
    assert silent.status_code == 422 and "say why" in field_error(silent.text, "reason")
    assert ledger(admin, customer_id) == before
    # when: a good one
    done = post(marketer, page, action, {"customer_id": customer_id, "points": "-20", "reason": "broken cup"})
    # then: one adjusted entry, shown in the history with the new balance
    assert done.status_code == 303
    after = ledger(admin, customer_id)
    assert len(after) == len(before) + 1 and after[-1]["kind"] == "adjusted" and after[-1]["points"] == -20
    shown = marketer.get(page).text
    assert 'class="balance-available">10<' in shown and "Adjusted by the shop: broken cup" in shown


def test_a_reward_and_a_wheel_are_created_and_bad_rows_are_marked(
    marketer: httpx.Client, admin: httpx.Client, program: dict
) -> None:
    offer = campaign(admin, name="Coffee", discount={"type": "amount", "amount": 300})
    rewards_page = "/dashboard/loyalty/rewards"
    bad = post(
        marketer,
        rewards_page,
        rewards_page,
        {"name": "Free coffee", "points": "-5", "campaign_id": offer["id"]},
    )
    assert bad.status_code == 422 and "greater than or equal to 1" in field_error(bad.text, "points")
    good = post(
        marketer,
        rewards_page,
        rewards_page,
        {"name": "Free coffee", "points": "50", "campaign_id": offer["id"], "stock": "3"},
    )
    assert good.status_code == 303
    [reward] = [r for r in admin.get("/v1/rewards").json()["items"] if r["name"] == "Free coffee"]
    assert (reward["points"], reward["stock"], reward["campaign_id"]) == (50, 3, offer["id"])
    assert "Coffee</a>: 3.00 off" in marketer.get(rewards_page).text

    wheels_page = "/dashboard/loyalty/wheels"
    form = {
        "name": "Lucky",
        "free_spins_per_day": "1",
        "cost_points": "10",
        "prizes.0.kind": "points",
        "prizes.0.points": "25",
        "prizes.0.weight": "3",
        "prizes.1.kind": "",
        "prizes.2.kind": "coupon",
        "prizes.2.weight": "1",
    }
    missing = post(marketer, wheels_page, wheels_page, form)
    assert missing.status_code == 422
    assert field_error(missing.text, "prizes.2.campaign_id") == "choose the campaign of the coupon"
    count = len(admin.get("/v1/wheels").json()["items"])
    made = post(
        marketer,
        wheels_page,
        wheels_page,
        {**form, "prizes.2.campaign_id": offer["id"], "prizes.2.stock": "2"},
    )
    assert made.status_code == 303
    wheel = admin.get("/v1/wheels").json()["items"][count]
    assert [(p["kind"], p["weight"], p.get("points"), p.get("stock")) for p in wheel["prizes"]] == [
        ("points", 3, 25, None),
        ("coupon", 1, None, 2),
    ]


# --- the customer's pages -------------------------------------------------------------------------


def test_a_non_member_sees_a_join_button_and_joins_from_the_points_page(
    server: Server, admin: httpx.Client, program: dict
) -> None:
    customer_id = unique("cust-")
    admin.put(f"/v1/customers/{customer_id}", json={"email": f"{customer_id}@example.com"})
    path = portal_path(admin, customer_id)
    with httpx.Client(base_url=server.base) as shopper:
        page = shopper.get(f"{path}/points")
        assert page.status_code == 200 and "Join the rewards program" in page.text
        joined = shopper.post(f"{path}/loyalty", data={"csrf_token": csrf_of(page.text)})
        assert joined.status_code == 303
        assert admin.get(f"/v1/customers/{customer_id}/points").json()["member"] is True
        again = shopper.get(f"{path}/points").text
        assert "Join the rewards program" not in again and "Leave the rewards program" in again
        assert shopper.post(f"{path}/loyalty/leave", data={}).status_code == 403  # CSRF, as everywhere
        left = shopper.post(f"{path}/loyalty/leave", data={"csrf_token": csrf_of(again)})
        assert left.status_code == 303
        assert admin.get(f"/v1/customers/{customer_id}/points").json()["member"] is False


def test_an_exchange_with_too_few_points_is_refused_in_words_and_changes_nothing(
    server: Server, admin: httpx.Client, program: dict
) -> None:
    offer = campaign(admin, name="Tote bag", discount={"type": "amount", "amount": 500})
    reward = admin.post(
        "/v1/rewards", json={"name": "Tote", "points": 100, "campaign_id": offer["id"]}
    ).json()
    customer_id = member(admin, 40)
    path = portal_path(admin, customer_id)
    before = ledger(admin, customer_id)
    with httpx.Client(base_url=server.base) as shopper:
        page = shopper.get(f"{path}/rewards")
        assert "60 more points needed" in page.text
        answer = shopper.post(
            f"{path}/rewards/{reward['id']}/exchanges", data={"csrf_token": csrf_of(page.text)}
        )
    assert answer.status_code == 409 and "You do not have enough points for this yet." in answer.text
    assert ledger(admin, customer_id) == before
    assert admin.get(f"/v1/customers/{customer_id}/wallet").json()["items"] == []


def test_a_spin_answers_the_prize_the_server_drew_as_json_for_the_wheels_script(
    server: Server, admin: httpx.Client, program: dict
) -> None:
    wheel = admin.post(
        "/v1/wheels",
        json={
            "name": "Only points",
            "free_spins_per_day": 1,
            "cost_points": 0,
            "prizes": [{"kind": "points", "points": 7, "weight": 1}],
        },
    ).json()
    customer_id = member(admin)
    path = portal_path(admin, customer_id)
    with httpx.Client(base_url=server.base) as shopper:
        token = csrf_of(shopper.get(f"{path}/wheel").text)
        url = f"{path}/wheels/{wheel['id']}/spins"
        first = shopper.post(url, data={"csrf_token": token}, headers={"Accept": "application/json"})
        second = shopper.post(url, data={"csrf_token": token}, headers={"Accept": "application/json"})
        plain = shopper.post(url, data={"csrf_token": token})
    assert first.status_code == 201
    assert first.json() | {"spin_id": "-"} == {
        "ok": True,
        "wheel_id": wheel["id"],
        "spin_id": "-",
        "position": 0,
        "kind": "points",
        "words": "You won 7 points!",
        "paid": "This was a free spin.",
        "code": None,
        "url": None,
        "available": 7,
    }
    assert second.status_code == 409 and second.json()["refusal"].startswith(
        "You have used today's free spins"
    )
    assert plain.status_code == 409 and "You have used today&#39;s free spins" in plain.text
    assert [e["kind"] for e in ledger(admin, customer_id)] == ["bonus"]


def test_without_javascript_a_spin_shows_the_page_with_the_wheel_resting_on_the_prize(
    server: Server, admin: httpx.Client, marketer: httpx.Client, program: dict
) -> None:
    wheel = admin.post(
        "/v1/wheels",
        json={
            "name": "Plain",
            "free_spins_per_day": 1,
            "prizes": [
                {"kind": "nothing", "weight": 1},
                {"kind": "points", "points": 3, "weight": 1, "stock": 0},
            ],
        },
    ).json()
    customer_id = member(admin)
    path = portal_path(admin, customer_id)
    with httpx.Client(base_url=server.base) as shopper:
        before = shopper.get(f"{path}/wheel").text
        answer = shopper.post(f"{path}/wheels/{wheel['id']}/spins", data={"csrf_token": csrf_of(before)})
    assert "Prizes: No prize." in before  # the visually hidden list of what can be won
    # the points prize is out of stock: only "nothing" can be drawn, and it is the whole wheel
    assert answer.status_code == 201
    assert 'data-position="0"' in answer.text and "No prize this time." in answer.text
    assert 'class="wheel-disc" transform="rotate(180.0 100 100)"' in answer.text
    # and the dashboard gives the chances as they are now: the prize out of stock has none
    dashboard = marketer.get("/dashboard/loyalty/wheels").text
    plain = dashboard[dashboard.index(">Plain</h3>") :]
    assert re.findall(r'<td class="num">([^<]+)</td>', plain)[:4] == ["1", "100.0 %", "1", "none left"]
