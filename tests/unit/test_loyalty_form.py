"""The dashboard's loyalty forms: flat form fields to the API's bodies, and the API's error paths back
onto the form rows they came from."""

from __future__ import annotations

import pytest

from couponry.api.schemas.loyalty import ProgramIn, WheelIn
from couponry.web import loyalty_form as lf


@pytest.mark.parametrize(
    ("api_field", "form_field"),
    [
        ("earn_points", "earn_points"),
        ("multipliers[3].factor", "multipliers.3.factor"),
        ("prizes[0].coupon.campaign_id", "prizes.0.campaign_id"),
        ("prizes[12].points.points", "prizes.12.points"),
        ("prizes.campaign_id", "prizes.campaign_id"),
    ],
)
def test_an_api_field_path_names_the_forms_input(api_field: str, form_field: str) -> None:
    assert lf.form_field(api_field) == form_field


def test_the_program_form_becomes_the_apis_body_in_minor_units_skipping_empty_rows() -> None:
    form = {
        "earn_points": "2",
        "per_amount": "10.00",
        "point_value": "0.05",
        "pending_days": "0",
        "expiry_days": "30",
        "multipliers.0.factor": "",
        "multipliers.0.brands": "",
        "multipliers.1.factor": "1.5",
        "multipliers.1.categories": "shoes, hats",
    }
    body, errors = lf.program_body(form)
    assert errors == {}
    clean, errors = lf.validated(ProgramIn, {**body, "multipliers": lf.strip_rows(body["multipliers"])})
    assert errors == {}
    assert (clean["earn_points"], clean["per_amount"], clean["point_value"], clean["pending_days"]) == (
        2,
        1000,
        5,
        0,
    )
    assert clean["multipliers"] == [
        {"products": [], "categories": ["shoes", "hats"], "brands": [], "factor": 1.5}
    ]


def test_a_schema_error_of_the_nth_item_sent_lands_on_the_row_it_was_typed_in() -> None:
    # given: prize rows 0 and 3 filled, 1 and 2 left empty; the second prize sent has a weight of 0
    form = {
        "name": "W",
        "free_spins_per_day": "1",
        "prizes.0.kind": "nothing",
        "prizes.0.weight": "1",
        "prizes.1.kind": "",
        "prizes.3.kind": "points",
        "prizes.3.points": "5",
        "prizes.3.weight": "0",
    }
    body, errors = lf.wheel_body(form)
    assert errors == {}
    # when
    _, errors = lf.validated(WheelIn, {**body, "prizes": lf.strip_rows(body["prizes"])})
    # then
    assert list(lf.renumber(errors, body["prizes"], "prizes")) == ["prizes.3.weight"]


def test_a_wheel_without_prizes_or_a_coupon_prize_without_its_campaign_is_refused_by_field() -> None:
    assert lf.wheel_body({"name": "W", "prizes.0.kind": ""})[1] == {"prizes": "give at least one prize"}
    _, errors = lf.wheel_body({"name": "W", "prizes.0.kind": "coupon", "prizes.0.weight": "x"})
    assert errors == {
        "prizes.0.weight": "must be a whole number",
        "prizes.0.campaign_id": "choose the campaign of the coupon",
    }


@pytest.mark.parametrize(
    ("points", "error"), [("0", "must not be zero"), ("", "required"), ("1e3", "must be a whole number")]
)
def test_an_adjustment_needs_non_zero_whole_points(points: str, error: str) -> None:
    _, errors = lf.adjustment_body({"customer_id": "c1", "points": points, "reason": "why"})
    assert errors == {"points": error}


def test_a_stored_program_fills_the_form_with_blank_rows_to_add_to() -> None:
    stored = {
        "earn_points": 1,
        "per_amount": 1000,
        "point_value": 1,
        "pending_days": 30,
        "expiry_days": 365,
        "multipliers": [{"products": ["p1"], "categories": [], "brands": ["acme"], "factor": 2.0}],
    }
    values = lf.program_values(stored)
    assert values["per_amount"] == "10.00" and values["point_value"] == "0.01"
    assert (values["multipliers.0.factor"], values["multipliers.0.brands"]) == ("2", "acme")
    assert lf.rows(values, "multipliers") == range(1 + lf.BLANK_ROWS)


def test_a_history_line_says_where_the_points_came_from_or_went() -> None:
    entry = {"kind": "redeemed", "source": {"type": "reward", "id": "x"}, "reason": "Cake"}
    assert lf.entry_words(entry) == "Exchanged for a reward: Cake"
    assert lf.entry_words({"kind": "bonus", "source": {"type": "spin", "id": "s"}, "reason": None}) == (
        "Won on the prize wheel"
    )
