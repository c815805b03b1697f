"""The pure segment rules: what is refused, and what each rule means at a given moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from couponry.domain.errors import InvalidSegment
from couponry.domain.segments import customer_facts, evaluate, parse_segment, predicate

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def matches(rules: list[dict[str, Any]], match: str = "all", **profile: Any) -> bool:
    return evaluate(predicate(parse_segment(match, rules), NOW), customer_facts(profile))


def rule(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([rule("favourite_colour", "eq", "red")], "rules[0].field"),
        ([rule("order_count", "between", 1)], "rules[0].op"),
        ([rule("order_count", "gte", "3")], "rules[0].value"),
        ([rule("order_count", "gte", True)], "rules[0].value"),
        ([rule("total_spent", "contains", 1)], "rules[0].op"),
        ([rule("days_since_signup", "gte", -1)], "rules[0].value"),
        ([rule("birthday_month", "eq", 13)], "rules[0].value"),
        ([rule("birthday_month", "in", [1, "soon"])], "rules[0].value"),
        ([rule("tags", "eq", "vip")], "rules[0].op"),
        ([rule("tags", "contains", "")], "rules[0].value"),
        ([rule("marketing_consent", "eq", "yes")], "rules[0].value"),
        ([rule("attributes.plan", "gt", "gold")], "rules[0].value"),
        ([rule("attributes.a.b", "eq", 1)], "rules[0].field"),
        ([rule("attributes.x", "eq", {"nested": 1})], "rules[0].value"),
        ([rule("order_count", "in", [])], "rules[0].value"),
        ([{"field": "order_count", "op": "gt"}], "rules[0]"),
        ([rule("order_count", "gt", 1), rule("nope", "gt", 1)], "rules[1].field"),
    ],
)
def test_a_rule_that_is_not_understood_is_refused_naming_it(rules: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(InvalidSegment) as refused:
        parse_segment("all", rules)
    assert refused.value.code == "invalid_segment"
    assert refused.value.field == field


def test_match_must_be_all_or_any() -> None:
    with pytest.raises(InvalidSegment):
        parse_segment("most", [])


def test_all_needs_every_rule_and_any_needs_one() -> None:
    rules = [rule("order_count", "gte", 2), rule("tags", "contains", "vip")]
    assert matches(rules, "all", order_count=2, tags=["vip"])
    assert not matches(rules, "all", order_count=2, tags=[])
    assert matches(rules, "any", order_count=0, tags=["vip"])
    assert not matches(rules, "any", order_count=1, tags=["new"])


def test_numeric_ops_compare_as_written() -> None:
    for op, value, expected in [
        ("eq", 3, True), ("ne", 3, False), ("gt", 2, True), ("gt", 3, False), ("gte", 3, True),
        ("lt", 4, True), ("lt", 3, False), ("lte", 3, True), ("in", [1, 3], True), ("in", [1, 2], False),
    ]:  # fmt: skip
        assert matches([rule("order_count", op, value)], order_count=3) is expected, (op, value)


def test_days_since_signup_counts_whole_days_elapsed() -> None:
    # signed up 30 days and one hour ago: 30 whole days have passed, not 31
    signed_up = NOW - timedelta(days=30, hours=1)
    assert matches([rule("days_since_signup", "eq", 30)], signed_up_at=signed_up)
    assert matches([rule("days_since_signup", "gte", 30)], signed_up_at=signed_up)
    assert not matches([rule("days_since_signup", "gt", 30)], signed_up_at=signed_up)
    assert matches([rule("days_since_signup", "lte", 30)], signed_up_at=signed_up)
    assert not matches([rule("days_since_signup", "lt", 30)], signed_up_at=signed_up)
    assert matches([rule("days_since_signup", "ne", 29)], signed_up_at=signed_up)
    assert matches([rule("days_since_signup", "in", [1, 30])], signed_up_at=signed_up)
    # exactly 30 days ago is 30 days; a second less is 29
    assert matches([rule("days_since_signup", "eq", 30)], signed_up_at=NOW - timedelta(days=30))
    assert matches(
        [rule("days_since_signup", "eq", 29)], signed_up_at=NOW - timedelta(days=30) + timedelta(seconds=1)
    )


def test_days_since_last_order_counts_from_sign_up_when_there_is_no_order() -> None:
    silent = [rule("days_since_last_order", "gte", 90)]
    assert matches(silent, signed_up_at=NOW - timedelta(days=100))
    assert not matches(silent, signed_up_at=NOW - timedelta(days=100), last_order_at=NOW - timedelta(days=5))
    assert matches(silent, signed_up_at=NOW - timedelta(days=400), last_order_at=NOW - timedelta(days=95))


def test_birthday_month_current_is_the_month_of_now() -> None:
    assert matches([rule("birthday_month", "eq", "current")], birthday="1990-05-31")
    assert not matches([rule("birthday_month", "eq", "current")], birthday="1990-06-01")
    assert matches([rule("birthday_month", "in", ["current", 12])], birthday="1990-12-01")


def test_a_customer_without_the_value_fails_a_comparison_and_passes_its_ne() -> None:
    assert not matches([rule("birthday_month", "eq", 5)])
    assert matches([rule("birthday_month", "ne", 5)])
    assert not matches([rule("attributes.plan", "eq", "gold")])
    assert matches([rule("attributes.plan", "ne", "gold")])
    assert not matches([rule("days_since_signup", "gte", 0)])


def test_marketing_consent_and_tags() -> None:
    assert matches([rule("marketing_consent", "eq", True)], marketing_consent=True)
    assert matches([rule("marketing_consent", "ne", True)], marketing_consent=False)
    assert matches([rule("tags", "in", ["a", "vip"])], tags=["vip"])
    assert not matches([rule("tags", "contains", "VIP")], tags=["vip"])


def test_attributes_compare_values_of_the_same_json_type_only() -> None:
    assert matches([rule("attributes.plan", "eq", "gold")], attributes={"plan": "gold"})
    assert not matches([rule("attributes.level", "eq", "3")], attributes={"level": 3})
    assert not matches([rule("attributes.flag", "eq", 1)], attributes={"flag": True})
    assert matches([rule("attributes.flag", "eq", True)], attributes={"flag": True})
    assert matches([rule("attributes.level", "gte", 2.5)], attributes={"level": 3})
    assert not matches([rule("attributes.level", "gt", 2)], attributes={"level": "3"})
    assert matches([rule("attributes.plan", "in", ["gold", "silver"])], attributes={"plan": "silver"})


def test_attribute_contains_looks_in_lists_and_inside_strings() -> None:
    assert matches([rule("attributes.pets", "contains", "cat")], attributes={"pets": ["dog", "cat"]})
    assert not matches([rule("attributes.pets", "contains", "ca")], attributes={"pets": ["dog", "cat"]})
    assert matches([rule("attributes.city", "contains", "slo")], attributes={"city": "Oslo"})
    assert matches([rule("attributes.sizes", "contains", 42)], attributes={"sizes": [41, 42]})
    assert not matches([rule("attributes.size", "contains", 42)], attributes={"size": 42})
