"""What a redemption contributes to the roll-ups, and that folding it in any steps adds up the same."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from couponry.domain.measures import (
    Adjustment,
    CodeFact,
    Deltas,
    LineFact,
    RedemptionFacts,
    Watermarks,
    roi,
    share,
)

DAY = date(2026, 11, 1)
ALL = Watermarks(10**9, 10**9, 10**9)


def _facts(**extra: object) -> RedemptionFacts:
    base = {
        "day": DAY,
        "base_revenue": 3500,
        "codes": (CodeFact(1, "A", "c1", True, 1000, 0),),
        "lines": (LineFact("A", "1", "s1", "platform", 2, 1000),),
        "paid": {"1": 3000},
        "quantities": {"1": 2},
    }
    base.update(extra)
    return RedemptionFacts(**base)  # type: ignore[arg-type]


def _sum(facts: RedemptionFacts, marks: Watermarks = ALL) -> Deltas:
    d = Deltas()
    d.add(facts, marks)
    return d


def test_a_redemption_counts_one_order_its_revenue_and_its_cost() -> None:
    d = _sum(_facts())
    assert d.nonzero() == ({("c1", "", DAY): [1, 1, 3500, 1000, 0]}, {("c1", "s1", "platform", DAY): 1000})


def test_a_whole_rollback_takes_everything_back() -> None:
    d = _sum(_facts(adjustments=(Adjustment(5, "refund", "1", 1), Adjustment(6, "rollback"))))
    assert d.nonzero() == ({}, {})


def test_a_partial_refund_gives_back_its_share_of_discount_and_revenue_half_up() -> None:
    facts = _facts(
        lines=(LineFact("A", "1", "s1", "platform", 3, 1000),),
        quantities={"1": 3},
        paid={"1": 5000},
        adjustments=(Adjustment(5, "refund", "1", 1),),
    )
    campaigns, stores = _sum(facts).nonzero()
    assert share(1000, 1, 3) == 333 and share(5000, 1, 3) == 1667
    assert campaigns[("c1", "", DAY)] == [1, 1, 3500 - 1667, 1000 - 333, 0]
    assert stores[("c1", "s1", "platform", DAY)] == 1000 - 333


def test_the_order_completed_amount_replaces_the_cart_total() -> None:
    campaigns, _ = _sum(_facts(event=(3, 9900))).nonzero()
    assert campaigns[("c1", "", DAY)][2] == 9900


def test_an_order_with_two_codes_of_one_campaign_counts_once_and_a_store_code_costs_the_store() -> None:
    facts = _facts(
        codes=(CodeFact(1, "A", "c1", True, 1000, 0), CodeFact(2, "B", "c1", False, 200, 300)),
        variants={"c1": "ten"},
    )
    campaigns, _ = _sum(facts).nonzero()
    assert campaigns[("c1", "ten", DAY)] == [2, 1, 3500, 1000, 500]


def test_roi_is_revenue_less_cost_over_cost() -> None:
    assert roi(5500, 1500) == 4000 / 1500
    assert roi(100, 0) is None


@st.composite
def _histories(draw: st.DrawFn) -> tuple[RedemptionFacts, list[Watermarks]]:
    quantity = draw(st.integers(1, 5))
    discount = draw(st.integers(0, 5000))
    refunds = draw(st.lists(st.integers(1, 2), max_size=3))
    adjustments = []
    seq = 1
    left = quantity
    for units in refunds:
        if units <= left:
            adjustments.append(Adjustment(seq, "refund", "1", units))
            left -= units
            seq += draw(st.integers(1, 3))
    if draw(st.booleans()):
        adjustments.append(Adjustment(seq, "rollback"))
    facts = _facts(
        codes=(CodeFact(draw(st.integers(1, 9)), "A", "c1", draw(st.booleans()), discount, 0),),
        lines=(LineFact("A", "1", "s1", "platform", quantity, discount),),
        quantities={"1": quantity},
        paid={"1": draw(st.integers(0, 10_000))},
        adjustments=tuple(adjustments),
        event=(draw(st.integers(1, 9)), draw(st.integers(0, 10_000))) if draw(st.booleans()) else None,
    )
    steps = draw(
        st.lists(
            st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=6
        )
    )
    marks = [Watermarks(0, 0, 0)]
    for c, e, a in sorted(steps):
        last = marks[-1]
        marks.append(Watermarks(max(last.codes, c), max(last.events, e), max(last.adjustments, a)))
    marks.append(ALL)
    return facts, marks


@given(_histories())
def test_folding_in_any_steps_adds_up_to_folding_at_once(
    history: tuple[RedemptionFacts, list[Watermarks]],
) -> None:
    facts, marks = history
    stepwise = Deltas()
    for before, after in zip(marks, marks[1:], strict=False):
        stepwise.change(facts, before, after)
    assert stepwise.nonzero() == _sum(facts).nonzero()
