"""The checkout path through the HTTP API: validation, reasons, stacking, holds, redemption, rollback."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.builders import campaign, campaign_with_code, cart, database_fingerprint, line, redeem, unique


def test_validation_allocates_the_discount_to_lines_and_has_no_side_effect(admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin, discount={"type": "amount", "amount": 1000})
    body = {"cart": cart(line("a", 1000), line("b", 2000), line("c", 3000)), "codes": [code]}

    first = admin.post("/v1/validations", json=body).json()
    again = admin.post("/v1/validations", json=body).json()

    assert first == again
    assert first["valid"] is True and first["discount"] == 1000 and first["total"] == 6000 + 500 - 1000
    assert [(x["id"], x["discount"]) for x in first["codes"][0]["lines"]] == [
        ("a", 167),
        ("b", 333),
        ("c", 500),
    ]
    assert admin.get(f"/v1/coupons/{code}").json()["redeemed_count"] == 0


def test_item_then_order_then_shipping_coupons_stack_and_percent_applies_to_what_is_left(
    admin: httpx.Client,
) -> None:
    _, item = campaign_with_code(admin, stacking="item", discount={"type": "amount", "amount": 1000})
    _, order = campaign_with_code(admin, stacking="order", discount={"type": "percent", "percent": 10})
    _, ship = campaign_with_code(
        admin, stacking="shipping", discount={"type": "free_shipping", "max_amount": 300}
    )

    result = admin.post(
        "/v1/validations", json={"cart": cart(line("1", 5000), shipping=500), "codes": [ship, order, item]}
    ).json()

    assert [c["valid"] for c in result["codes"]] == [True, True, True]
    assert [c.get("discount") for c in result["codes"]] == [0, 400, 1000]
    assert result["shipping_discount"] == 300
    assert result["total"] == 5000 + 500 - 1400 - 300


def _past(days: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _future(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


NOW = datetime.now(UTC)
ELSEWHEN = (NOW + timedelta(hours=12)).strftime("%a").lower()[:3]
REASONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("expired", {"validity": {"starts_at": _past(10), "ends_at": _past(1)}}, {}),
    ("not_started", {"validity": {"starts_at": _future(1)}}, {}),
    ("campaign_inactive", {"status": "paused"}, {}),
    ("min_spend_not_met", {"conditions": {"min_spend": 100000}}, {}),
    ("min_quantity_not_met", {"conditions": {"min_quantity": 5}}, {}),
    ("no_eligible_items", {"scope": {"categories": ["hats"]}}, {}),
    (
        "excluded_item_in_cart",
        {"scope": {"exclude_on_sale": True, "require_all_items": True}},
        {"cart": cart(line("1"), line("2", on_sale=True))},
    ),
    ("customer_required", {"limits": {"per_customer": 1}}, {}),
    ("customer_not_eligible", {"conditions": {"customer_tags": ["vip"]}}, {"customer_id": "plain-customer"}),
    ("channel_not_allowed", {"conditions": {"channels": ["pos"]}}, {}),
    ("currency_mismatch", {"currency": "EUR"}, {}),
    (
        "country_not_allowed",
        {"conditions": {"shipping_countries": ["NO"]}},
        {"cart": cart(line(), shipping_country="SE")},
    ),
    (
        "outside_time_window",
        {
            "conditions": {
                "time_windows": [
                    {
                        "days": [ELSEWHEN],
                        "start": (NOW + timedelta(hours=12)).strftime("%H:00"),
                        "end": (NOW + timedelta(hours=13)).strftime("%H:00"),
                        "timezone": "UTC",
                    }
                ]
            }
        },
        {},
    ),
]


@pytest.mark.parametrize(("reason", "spec", "request_change"), REASONS, ids=[r[0] for r in REASONS])
def test_a_refused_code_carries_the_precise_reason(
    admin: httpx.Client, reason: str, spec: dict[str, Any], request_change: dict[str, Any]
) -> None:
    _, code = campaign_with_code(admin, **spec)
    body = {"cart": cart(), "codes": [code], "customer_id": None, **request_change}

    result = admin.post("/v1/validations", json=body).json()

    assert result["valid"] is False
    assert result["codes"][0]["reason"] == reason, result
    assert result["codes"][0]["message"]
    assert result["discount"] == 0


def test_unknown_and_not_combinable_codes_are_named(admin: httpx.Client) -> None:
    _, first = campaign_with_code(admin)
    _, second = campaign_with_code(admin)
    result = admin.post(
        "/v1/validations", json={"cart": cart(), "codes": [first, second, "NOSUCHCODE"]}
    ).json()
    assert [c.get("reason") for c in result["codes"]] == [None, "not_combinable", "unknown_code"]
    assert result["discount"] == 1000  # totals count only the valid codes


def test_usage_coupon_customer_and_budget_limits_refuse_once_reached(admin: httpx.Client) -> None:
    _, usage = campaign_with_code(admin, limits={"max_redemptions": 1})
    _, per_coupon = campaign_with_code(admin, limits={"per_coupon": 1})
    _, per_customer = campaign_with_code(admin, limits={"per_customer": 1})
    _, budget = campaign_with_code(admin, limits={"budget": 1500})

    for code in (usage, per_coupon, per_customer, budget):
        assert redeem(admin, code, customer_id="limit-customer").status_code == 201
    refusals = {
        code: redeem(admin, code, customer_id="limit-customer").json()["codes"][0]["reason"]
        for code in (usage, per_coupon, per_customer, budget)
    }

    assert refusals == {
        usage: "usage_limit_reached",
        per_coupon: "coupon_used_up",
        per_customer: "customer_limit_reached",
        budget: "budget_exhausted",
    }


def test_personal_codes_need_their_own_customer(admin: httpx.Client) -> None:
    created = campaign(admin)
    code = admin.post(
        f"/v1/campaigns/{created['id']}/coupons", json={"count": 1, "customer_id": "owner"}
    ).json()["codes"][0]

    def reason(customer: str | None) -> str | None:
        body = {"cart": cart(), "codes": [code], "customer_id": customer}
        return admin.post("/v1/validations", json=body).json()["codes"][0].get("reason")

    assert reason(None) == "customer_required"
    assert reason("someone-else") == "not_assigned_to_customer"
    assert reason("owner") is None


def test_first_order_only_follows_order_events_counted_once(admin: httpx.Client) -> None:
    # given
    customer = unique("new")
    _, code = campaign_with_code(admin, conditions={"first_order_only": True})
    body = {"cart": cart(), "codes": [code], "customer_id": customer}
    event = {
        "type": "order.completed",
        "customer_id": customer,
        "order_id": unique("O"),
        "amount": 4100,
        "currency": "USD",
    }
    before = admin.post("/v1/validations", json=body).json()["codes"][0]
    # when
    assert admin.post("/v1/events", json=event).status_code == 202
    assert admin.post("/v1/events", json=event).json()["duplicate"] is True
    after = admin.post("/v1/validations", json=body).json()["codes"][0]
    # then
    assert before["valid"] is True
    assert after["reason"] == "first_order_only"
    assert admin.get(f"/v1/customers/{customer}").json()["order_count"] == 1


def test_customer_tags_from_the_profile_make_a_customer_eligible(admin: httpx.Client) -> None:
    customer = unique("vip")
    _, code = campaign_with_code(admin, conditions={"customer_tags": ["vip"]})
    put = admin.put(f"/v1/customers/{customer}", json={"email": "a@example.com", "tags": ["vip"]})
    result = admin.post(
        "/v1/validations", json={"cart": cart(), "codes": [code], "customer_id": customer}
    ).json()
    assert put.status_code == 201
    assert result["valid"] is True


def test_a_redemption_is_all_or_nothing(admin: httpx.Client) -> None:
    _, good = campaign_with_code(admin, stacking="item")
    _, expired = campaign_with_code(admin, validity={"ends_at": _past(1)})

    response = admin.post(
        "/v1/redemptions", json={"order_id": unique("O"), "cart": cart(), "codes": [good, expired]}
    )

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "redemption_refused"
    assert [c.get("reason") for c in problem["codes"]] == [None, "expired"]
    assert admin.get(f"/v1/coupons/{good}").json()["redeemed_count"] == 0


def test_a_redemption_keeps_its_allocation_and_can_be_found_by_order(admin: httpx.Client) -> None:
    created, code = campaign_with_code(admin, discount={"type": "percent", "percent": 12.5})
    order = unique("O")
    redeemed = redeem(admin, code, order_id=order, cart=cart(line("1", 333), line("2", 667))).json()

    found = admin.get("/v1/redemptions", params={"order_id": order}).json()["items"]

    assert redeemed["discount"] == 125  # 12.5 % of 1000
    assert [x["discount"] for x in redeemed["codes"][0]["lines"]] == [42, 83]
    assert [r["id"] for r in found] == [redeemed["id"]]
    assert admin.get(f"/v1/redemptions/{redeemed['id']}").json()["codes"] == redeemed["codes"]
    assert admin.get(f"/v1/campaigns/{created['id']}").json()["stats"]["budget_used"] == 125


def test_the_same_order_cannot_redeem_the_same_code_twice_without_a_key(admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin)
    order = unique("O")
    assert redeem(admin, code, order_id=order).status_code == 201
    again = redeem(admin, code, order_id=order)
    assert again.status_code == 409 and again.json()["code"] == "already_redeemed"


def test_an_idempotency_key_with_another_body_is_a_conflict(admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin)
    key = {"Idempotency-Key": unique("K")}
    first = admin.post(
        "/v1/redemptions", json={"order_id": "o-a", "cart": cart(), "codes": [code]}, headers=key
    )
    replay = admin.post(
        "/v1/redemptions", json={"order_id": "o-a", "cart": cart(), "codes": [code]}, headers=key
    )
    other = admin.post(
        "/v1/redemptions", json={"order_id": "o-b", "cart": cart(), "codes": [code]}, headers=key
    )
    assert first.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert admin.get(f"/v1/coupons/{code}").json()["redeemed_count"] == 1


def test_rollback_gives_usage_and_budget_back_exactly_once(admin: httpx.Client) -> None:
    created, code = campaign_with_code(admin, limits={"max_redemptions": 1, "budget": 5000})
    redemption = redeem(admin, code).json()

    first = admin.post(f"/v1/redemptions/{redemption['id']}/rollback", json={"reason": "cancelled"})
    second = admin.post(f"/v1/redemptions/{redemption['id']}/rollback", json={"reason": "cancelled"})

    assert first.status_code == 200 and first.json()["status"] == "rolled_back"
    assert second.status_code == 409 and second.json()["code"] == "already_rolled_back"
    stats = admin.get(f"/v1/campaigns/{created['id']}").json()["stats"]
    assert (stats["redeemed_count"], stats["budget_used"]) == (0, 0)
    assert redeem(admin, code).status_code == 201  # the use is free again


def test_a_partial_refund_by_lines_gives_back_that_lines_discount_but_keeps_the_use(
    admin: httpx.Client,
) -> None:
    # given 1000 off a cart of 3000 (line a: 1 x 1000) + 2 x 1000 (line b): a gets 333, b gets 667
    created, code = campaign_with_code(admin, discount={"type": "amount", "amount": 1000})
    redemption = redeem(admin, code, cart=cart(line("a", 1000), line("b", 1000, quantity=2))).json()
    # when one of line b's two units is refunded, then the other
    once = admin.post(
        f"/v1/redemptions/{redemption['id']}/rollback", json={"lines": [{"id": "b", "quantity": 1}]}
    )
    twice = admin.post(
        f"/v1/redemptions/{redemption['id']}/rollback", json={"lines": [{"id": "b", "quantity": 1}]}
    )
    too_many = admin.post(
        f"/v1/redemptions/{redemption['id']}/rollback", json={"lines": [{"id": "b", "quantity": 1}]}
    )
    # then
    assert once.json()["returned_discount"] == 334  # half of 667, rounded half-up
    assert twice.json()["returned_discount"] == 667
    assert too_many.status_code == 422 and too_many.json()["field"] == "lines[0].quantity"
    stats = admin.get(f"/v1/campaigns/{created['id']}").json()["stats"]
    assert (stats["redeemed_count"], stats["budget_used"]) == (1, 333)


def test_a_hold_counts_against_the_limit_and_its_own_confirmation_never_fails(admin: httpx.Client) -> None:
    # given a code usable once, held for one order
    _, code = campaign_with_code(admin, limits={"max_redemptions": 1})
    order = unique("O")
    hold = admin.post("/v1/reservations", json={"order_id": order, "cart": cart(), "codes": [code]})
    # when another order tries, then the holder confirms
    other = redeem(admin, code)
    confirmed = admin.post("/v1/redemptions", json={"order_id": order, "reservation_id": hold.json()["id"]})
    # then
    assert hold.status_code == 201 and hold.json()["expires_at"]
    assert other.status_code == 409 and other.json()["codes"][0]["reason"] == "usage_limit_reached"
    assert confirmed.status_code == 201 and confirmed.json()["reservation_id"] == hold.json()["id"]
    assert admin.get(f"/v1/coupons/{code}").json()["redeemed_count"] == 1


def test_a_released_hold_frees_the_code(admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin, limits={"max_redemptions": 1})
    hold = admin.post(
        "/v1/reservations", json={"order_id": unique("O"), "cart": cart(), "codes": [code]}
    ).json()
    released = admin.delete(f"/v1/reservations/{hold['id']}")
    assert released.json()["status"] == "released"
    assert redeem(admin, code).status_code == 201


def test_an_expired_hold_stops_counting(admin: httpx.Client) -> None:
    # The e2e server sweeps expired holds every 0.5 s (production: every 20 s, well within a minute).
    _, code = campaign_with_code(admin, limits={"max_redemptions": 1})
    admin.post(
        "/v1/reservations", json={"order_id": unique("O"), "cart": cart(), "codes": [code], "ttl_seconds": 1}
    )
    assert redeem(admin, code).status_code == 409
    deadline = time.monotonic() + 15
    while (response := redeem(admin, code)).status_code != 201 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert response.status_code == 201


def test_best_coupons_picks_the_wallet_combination_that_saves_most(admin: httpx.Client) -> None:
    customer = unique("wallet")
    small = campaign(admin, discount={"type": "amount", "amount": 300})
    big = campaign(admin, discount={"type": "percent", "percent": 20})
    ship = campaign(admin, stacking="shipping", discount={"type": "free_shipping"})
    for c in (small, big, ship):
        admin.post(f"/v1/campaigns/{c['id']}/coupons", json={"count": 1, "customer_id": customer})

    best = admin.post(
        "/v1/best-coupons", json={"cart": cart(line("1", 5000)), "customer_id": customer}
    ).json()

    assert sorted(c["campaign_id"] for c in best["codes"]) == sorted([big["id"], ship["id"]])
    assert best["discount"] == 1000 and best["shipping_discount"] == 500


BAD_INPUT = [
    ("POST", "/v1/validations", {"cart": {"currency": "USD", "lines": []}, "codes": []}, "codes"),
    (
        "POST",
        "/v1/validations",
        {
            "cart": {"currency": "USD", "lines": [{"id": "1", "unit_price": -1, "quantity": 1}]},
            "codes": ["X"],
        },
        "cart.lines[0].unit_price",
    ),
    (
        "POST",
        "/v1/validations",
        {
            "cart": {"currency": "USD", "lines": [{"id": "1", "unit_price": 10.5, "quantity": 1}]},
            "codes": ["X"],
        },
        "cart.lines[0].unit_price",
    ),
    ("POST", "/v1/redemptions", {"cart": {"currency": "USD", "lines": []}, "codes": ["X"]}, "order_id"),
    (
        "POST",
        "/v1/redemptions",
        {
            "order_id": "o",
            "cart": {
                "currency": "USD",
                "lines": [
                    {"id": "1", "unit_price": 1, "quantity": 1},
                    {"id": "1", "unit_price": 1, "quantity": 1},
                ],
            },
            "codes": ["X"],
        },
        "cart.lines",
    ),
    (
        "POST",
        "/v1/reservations",
        {"order_id": "o", "cart": {"currency": "USD", "lines": []}, "codes": ["X"], "ttl_seconds": 0},
        "ttl_seconds",
    ),
    ("POST", "/v1/best-coupons", {"cart": {"currency": "dollars", "lines": []}}, "cart.currency"),
    ("POST", "/v1/events", {"type": "order.exploded", "customer_id": "c"}, "type"),
    ("POST", "/v1/events", {"type": "order.completed", "customer_id": "c", "amount": -1}, "amount"),
    ("PUT", "/v1/customers/c1", {"email": "not-an-email"}, "email"),
    ("POST", "/v1/campaigns/CAMPAIGN/coupons", {"count": 0}, "count"),
    (
        "POST",
        "/v1/redemptions/REDEMPTION/rollback",
        {"lines": [{"id": "1", "quantity": 0}]},
        "lines[0].quantity",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD_INPUT)
def test_bad_input_to_every_endpoint_is_422_naming_the_field_and_changes_nothing(
    server: Any, admin: httpx.Client, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    # given
    created, code = campaign_with_code(admin)
    redemption = redeem(admin, code).json()
    path = path.replace("CAMPAIGN", created["id"]).replace("REDEMPTION", redemption["id"])
    before = database_fingerprint(server.database_url)
    # when
    response = admin.request(method, path, json=body)
    # then
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    assert database_fingerprint(server.database_url) == before


def test_health_and_metrics_report_the_database_and_redemptions(server: Any, admin: httpx.Client) -> None:
    _, code = campaign_with_code(admin, validity={"ends_at": _past(1)})
    redeem(admin, code)
    health = httpx.get(server.base + "/healthz").json()
    metrics = admin.get("/metrics").text  # an admin key reads the metrics
    assert health["status"] == "ok"
    assert 'couponry_redemptions_total{outcome="refused"}' in metrics
    assert 'couponry_code_refusals_total{reason="expired"}' in metrics
    assert 'route="/v1/redemptions"' in metrics


def test_a_platform_coupon_across_two_stores_records_per_line_who_bears_the_cost(admin: httpx.Client) -> None:
    _, platform_code = campaign_with_code(admin, discount={"type": "amount", "amount": 900})
    store = campaign(
        admin,
        issuer={"type": "store", "store_id": "s2"},
        stacking="item",
        discount={"type": "amount", "amount": 100},
    )
    store_code = admin.post(f"/v1/campaigns/{store['id']}/coupons", json={"codes": [unique("S2")]}).json()[
        "codes"
    ][0]

    redeemed = redeem(
        admin,
        platform_code,
        codes=[platform_code, store_code],
        cart=cart(line("a", 1000, store_id="s1"), line("b", 2000, store_id="s2")),
    ).json()

    by_code = {c["code"]: c["lines"] for c in redeemed["codes"]}
    assert by_code[store_code] == [{"id": "b", "discount": 100, "store_id": "s2", "borne_by": "s2"}]
    assert by_code[platform_code] == [
        {"id": "a", "discount": 310, "store_id": "s1", "borne_by": "platform"},
        {"id": "b", "discount": 590, "store_id": "s2", "borne_by": "platform"},
    ]


def test_validation_and_redemption_answer_the_same_through_the_fast_path_and_the_declared_endpoint(
    admin: httpx.Client,
) -> None:
    """`Content-Type: application/json` with a recently resolved key takes the fast path (api.fast_path);
    `application/vnd.test+json` is JSON to FastAPI but not to the fast path, so it takes the declared
    endpoint. Both must give the same answer, refusals included."""
    _, code = campaign_with_code(
        admin, discount={"type": "percent", "percent": 10}, limits={"max_redemptions": 5}
    )
    fast, declared = {"Content-Type": "application/json"}, {"Content-Type": "application/vnd.test+json"}
    body = {"cart": cart(line("a", 1005), line("b", 2000)), "codes": [code, "NO-SUCH-CODE"]}
    answers = [admin.post("/v1/validations", content=json_bytes(body), headers=h) for h in (fast, declared)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()

    redeemed = []
    for i, headers in enumerate((fast, declared)):
        order = {"order_id": f"order-{unique()}-{i}", "cart": cart(line("a", 1005)), "codes": [code]}
        answer = admin.post("/v1/redemptions", content=json_bytes(order), headers=headers)
        assert answer.status_code == 201
        redeemed.append({k: v for k, v in answer.json().items() if k not in ("id", "order_id", "created_at")})
    assert redeemed[0] == redeemed[1]

    for headers in (fast, declared):  # the same refusal either way: a malformed cart
        bad = {"order_id": "x", "cart": {"currency": "usd", "lines": []}, "codes": [code]}
        answer = admin.post("/v1/redemptions", content=json_bytes(bad), headers=headers)
        assert answer.status_code == 422 and answer.json()["field"] == "cart.currency"


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
