"""The loyalty rules as a specification: earning and its rounding, refunds, dates, balances, expiry."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from couponry.domain.errors import InvalidInput
from couponry.domain.loyalty import (
    Balances,
    Lots,
    Multiplier,
    OrderLine,
    Program,
    balances,
    changes,
    check_program,
    draw,
    due_to_expire,
    expiring,
    matures_at,
    points_for_order,
    points_kept,
    points_taken_back,
    program_to_json,
    split_take_back,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE = Program(earn_points=1, per_amount=1000)
DOUBLE_SHOES = Program(
    earn_points=1, per_amount=1000, multipliers=(Multiplier(Fraction(2), categories=frozenset({"shoes"})),)
)


@pytest.mark.parametrize(
    ("program", "lines", "points"),
    [
        # three lines of 9.50 at 1 point per 10.00: 0 each when rounded per line, 2 per order (ours)
        (BASE, [OrderLine(950), OrderLine(950), OrderLine(950)], 2),
        # one shoe line doubled (15.00 x 2 = 30.00) plus 7.00: 37.00 -> 3
        (DOUBLE_SHOES, [OrderLine(1500, category="shoes"), OrderLine(700, category="hats")], 3),
        (
            Program(
                earn_points=1,
                per_amount=100,
                multipliers=(Multiplier(Fraction(3, 2), products=frozenset({"p"})),),
            ),
            [OrderLine(999, product_id="p")],
            14,
        ),  # 1498.5 -> 14  # fmt: skip
        (BASE, [OrderLine(999)], 0),
        (BASE, [], 0),
        (Program(earn_points=5, per_amount=100), [OrderLine(4100)], 205),
    ],
)
def test_an_order_earns_its_weighted_amount_rounded_down_once(
    program: Program, lines: list[OrderLine], points: int
) -> None:
    assert points_for_order(program, lines) == points


def test_multipliers_do_not_stack_the_largest_one_applies() -> None:
    program = Program(
        multipliers=(
            Multiplier(Fraction(2), categories=frozenset({"shoes"})),
            Multiplier(Fraction(3), brands=frozenset({"acme"})),
        )
    )
    assert points_for_order(program, [OrderLine(1000, category="shoes", brand="acme")]) == 3


@given(st.lists(st.integers(0, 10**7), max_size=20))
def test_rounding_per_order_never_gives_less_than_rounding_per_line(amounts: list[int]) -> None:
    lines = [OrderLine(a) for a in amounts]
    per_line = sum(points_for_order(BASE, [line]) for line in lines)
    assert per_line <= points_for_order(BASE, lines) <= per_line + len(lines)


_FACTORS = st.fractions(min_value=Fraction(1, 10), max_value=10, max_denominator=12)
_MULTIPLIERS = st.lists(
    st.builds(
        Multiplier,
        _FACTORS,
        categories=st.frozensets(st.sampled_from(["shoes", "hats", "socks"]), max_size=2),
        brands=st.frozensets(st.sampled_from(["acme", "zeta"]), max_size=1),
    ),
    max_size=3,
)
_LINES = st.lists(
    st.builds(
        OrderLine,
        st.integers(-500, 10**7),
        category=st.sampled_from([None, "shoes", "hats", "socks"]),
        brand=st.sampled_from([None, "acme", "zeta"]),
    ),
    max_size=12,
)


@given(_MULTIPLIERS, _LINES, st.integers(1, 50), st.integers(1, 10_000))
def test_an_order_earns_exactly_what_rational_arithmetic_gives(
    multipliers: list[Multiplier], lines: list[OrderLine], earn_points: int, per_amount: int
) -> None:
    program = Program(earn_points=earn_points, per_amount=per_amount, multipliers=tuple(multipliers))
    # the oracle: each positive line times the largest factor naming it (else 1), added as exact
    # rationals, times the rate, floored once
    weighted = Fraction(0)
    for line in lines:
        factors = [
            m.factor
            for m in multipliers
            if line.category in m.categories or (line.brand is not None and line.brand in m.brands)
        ]
        weighted += max(line.amount, 0) * max(factors, default=Fraction(1))
    assert points_for_order(program, lines) == math.floor(weighted * earn_points / per_amount)


@pytest.mark.parametrize(
    ("earned", "amount", "refunded", "taken"),
    [
        (5, 5000, 2500, 3),
        (5, 5000, 5000, 5),
        (5, 5000, 9999, 5),
        (5, 5000, 0, 0),
        (10, 3000, 1000, 4),
        (0, 100, 50, 0),
    ],
)
def test_a_refund_keeps_what_the_kept_part_earns_rounded_down(
    earned: int, amount: int, refunded: int, taken: int
) -> None:
    assert points_taken_back(earned, amount, refunded) == taken
    assert points_kept(earned, amount, refunded) == earned - taken


@given(st.integers(0, 10**6), st.integers(1, 10**8), st.integers(0, 10**8))
def test_a_refund_never_takes_more_than_was_earned(earned: int, amount: int, refunded: int) -> None:
    assert 0 <= points_taken_back(earned, amount, refunded) <= earned


def test_a_refund_takes_pending_points_first() -> None:
    assert split_take_back(5, 3) == (3, 2)
    assert split_take_back(2, 3) == (2, 0)
    assert split_take_back(4, 0) == (0, 4)


def test_points_mature_pending_days_after_the_order() -> None:
    assert matures_at(Program(pending_days=30), T0) == T0 + timedelta(days=30)


def test_each_kind_moves_the_balances_as_the_table_says() -> None:
    assert changes("earned", 10) == Balances(10, 0, 10)
    assert changes("matured", 10) == Balances(-10, 10, 0)
    assert changes("redeemed", -4) == Balances(0, -4, 0)
    assert changes("expired", -4) == Balances(0, -4, 0)
    assert changes("reversed", -3, "pending") == Balances(-3, 0, -3)
    assert changes("reversed", -3, "available") == Balances(0, -3, -3)
    assert changes("adjusted", -2) == Balances(0, -2, -2)
    assert changes("bonus", 7) == Balances(0, 7, 7)
    assert balances(
        [("earned", 10, "pending"), ("matured", 10, "available"), ("redeemed", -4, "available")]
    ) == (Balances(0, 6, 10))
    with pytest.raises(ValueError):
        changes("stolen", 1)


def test_expiry_takes_the_unused_rest_of_the_oldest_lots() -> None:
    # given lots of 100 (expiring day 10) and 50 (day 20), 120 spent: the first lot is used up
    lots = Lots({T0 + timedelta(days=10): 100, T0 + timedelta(days=20): 50}, debited=120)
    # then nothing expires on day 10, 30 on day 20
    assert due_to_expire(lots, T0 + timedelta(days=15)) == 0
    assert expiring(lots) == [(T0 + timedelta(days=20), 30)]
    assert due_to_expire(lots, T0 + timedelta(days=25)) == 30
    # and once expired (a debit), nothing is left to expire again
    assert due_to_expire(Lots(lots.credits, 150), T0 + timedelta(days=25)) == 0


def test_a_debt_from_a_refund_is_paid_off_by_later_lots_before_they_can_expire() -> None:
    # 100 matured and spent, then the order refunded (a negative credit of its lot): available is -100
    lots = Lots({T0 + timedelta(days=10): 0, T0 + timedelta(days=40): 60}, debited=100)
    assert due_to_expire(lots, T0 + timedelta(days=50)) == 0


@given(
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 500)), max_size=8),
    st.integers(0, 3000),
    st.integers(0, 70),
)
def test_expiry_never_takes_more_than_is_available(
    credits: list[tuple[int, int]], debited: int, day: int
) -> None:
    lots: dict[datetime, int] = {}
    for d, p in credits:
        lots[T0 + timedelta(days=d)] = lots.get(T0 + timedelta(days=d), 0) + p
    available = sum(lots.values()) - debited
    due = due_to_expire(Lots(lots, debited), T0 + timedelta(days=day))
    assert 0 <= due <= max(available, 0)
    # a second run, with the expiry counted as a debit, finds nothing more
    assert due_to_expire(Lots(lots, debited + due), T0 + timedelta(days=day)) == 0


def test_the_program_refuses_bad_settings_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_program({"per_amount": 0})
    assert refused.value.field == "per_amount"
    with pytest.raises(InvalidInput):
        check_program({"multipliers": [{"factor": 2}]})
    with pytest.raises(InvalidInput):
        check_program({"multipliers": [{"products": ["p"], "factor": 0}]})


def test_the_program_survives_a_round_trip_through_json() -> None:
    multipliers = [
        {"products": [], "categories": [], "brands": ["acme"], "factor": 1.5},
        {"products": [], "categories": ["shoes"], "brands": [], "factor": 2},
    ]
    body = {"earn_points": 2, "per_amount": 500, "point_value": 1, "pending_days": 14, "expiry_days": 90,
            "multipliers": multipliers}  # fmt: skip
    assert program_to_json(check_program(body)) == body


def test_draw_maps_each_pick_to_its_weight_and_never_to_a_zero_weight() -> None:
    weights = [3, 0, 1]
    assert [draw(weights, pick) for pick in range(4)] == [0, 0, 0, 2]
    with pytest.raises(ValueError):
        draw([0, 0], 0)


def test_draws_with_secrets_follow_the_weights() -> None:
    import secrets

    from scipy.stats import chisquare

    weights = [50, 30, 15, 5, 0]
    drawn = [draw(weights, secrets.randbelow(sum(weights))) for _ in range(10_000)]
    assert drawn.count(4) == 0
    observed = [drawn.count(i) for i in range(4)]
    assert chisquare(observed, [10_000 * w / 100 for w in weights[:4]]).pvalue > 1e-5, observed
