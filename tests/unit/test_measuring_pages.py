"""What the measuring pages compute before drawing: the bar chart's geometry (one bar per day with data,
scaled to a round axis top) and why an A/B test names no winner yet."""

from __future__ import annotations

import pytest

from couponry.domain.experiments import MIN_SAMPLE, why_no_winner
from couponry.web.charts import HEIGHT, TOP, WIDTH, bar_chart, nice_ceiling
from couponry.web.measuring import ab_test


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (4500, 5000)]
)
def test_the_axis_top_is_a_round_number_at_or_above_the_highest_value(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_a_chart_has_one_bar_per_day_with_data_and_the_highest_reaches_the_axis_top() -> None:
    series = [("2026-11-01", 0), ("2026-11-02", 4), ("2026-11-03", 0), ("2026-11-04", 10)]
    chart = bar_chart("Daily redemptions", series)
    assert [b.day for b in chart.bars] == ["2026-11-02", "2026-11-04"]
    tallest = chart.bars[1]
    assert tallest.y == TOP and tallest.y + tallest.height == chart.baseline
    assert chart.bars[0].height == pytest.approx(tallest.height * 0.4)
    assert all(0 <= b.x and b.x + b.width <= WIDTH and b.y + b.height <= HEIGHT for b in chart.bars)
    assert chart.bars[0].x < chart.bars[1].x
    assert "2 of 4 days" in chart.desc and "10 on 2026-11-04" in chart.desc


def test_a_chart_without_data_says_so_and_draws_no_bar() -> None:
    chart = bar_chart("Daily revenue", [("2026-11-01", 0), ("2026-11-02", 0)], lambda v: f"{v / 100:.2f}")
    assert chart.bars == [] and chart.desc == "No data on any day from 2026-11-01 to 2026-11-02."
    assert chart.top_text == "0.01"


def test_a_refund_larger_than_a_days_sales_draws_no_negative_bar() -> None:
    chart = bar_chart("Daily revenue", [("2026-11-01", -500), ("2026-11-02", 1000)])
    assert chart.bars[0].height == 0 and chart.bars[0].value == -500


@pytest.mark.parametrize(
    ("p_value", "issued", "why"),
    [
        (None, [10, 10], "not_testable"),
        (0.01, [5], "not_testable"),
        (0.01, [MIN_SAMPLE, MIN_SAMPLE - 1], "sample_too_small"),
        (0.2, [MIN_SAMPLE, MIN_SAMPLE], "not_significant"),
        (0.05, [MIN_SAMPLE, MIN_SAMPLE], "not_significant"),
        (0.049, [MIN_SAMPLE, MIN_SAMPLE], None),
    ],
)
def test_a_test_without_a_winner_says_why(p_value: float | None, issued: list[int], why: str | None) -> None:
    assert why_no_winner(p_value, issued) == why


def _body(winner: str | None, p_value: float | None, issued: tuple[int, int]) -> dict:
    arm = {"redeemed": 0, "redemption_rate": 0.1, "weight": 1.0, "revenue_per_issued": 0}
    return {
        "currency": "USD",
        "variants": [
            {
                **arm,
                "name": "ten",
                "discount": {"type": "percent", "percent": "10"},
                "control": False,
                "issued": issued[0],
            },
            {**arm, "name": "none", "discount": None, "control": True, "issued": issued[1]},
        ],  # fmt: skip
        "p_value": p_value,
        "winner": winner,
        "compared": ["none", "ten"],
        "srm_p_value": 0.5,
        "min_sample": MIN_SAMPLE,
    }


def test_the_ab_section_names_the_winner_or_says_why_there_is_none_yet() -> None:
    won = ab_test(_body("ten", 0.001, (2000, 2000)))
    assert won["winner"] == "ten" and won["why"] is None
    assert [r["words"] for r in won["rows"]] == ["10% off", "no discount (control)"]
    small = ab_test(_body(None, 0.001, (2000, 40)))
    assert (
        small["why"].startswith("the sample is below the minimum") and "(the smallest has 40)" in small["why"]
    )
    even = ab_test(_body(None, 0.31, (2000, 2000)))
    assert even["why"] == "the difference is not significant (p = 0.310, at or above 0.05)"
    assert ab_test(_body(None, None, (0, 10)))["why"].startswith("there is nothing to compare yet")
