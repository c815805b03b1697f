"""Customer segments as data: rules over a customer's profile, checked here and evaluated in SQL.

A segment is `match` ("all" | "any") over rules `{"field", "op", "value"}`. `parse_segment` refuses
anything it does not understand (unknown field or op, a value of the wrong type) with
`invalid_segment`, naming the rule. `predicate(segment, now)` resolves the rules at one moment into a
small tree of comparisons on stored columns, which the database adapter turns into a WHERE clause
(couponry.adapters.db.segment_sql) and `evaluate` checks in Python (the specification the SQL is
tested against).

Resolving at a moment turns time rules into comparisons of stored timestamps, so they stay indexable
and portable: `days_since_signup >= 30` becomes `signed_up_at <= now - 30 days`, where the days since
a moment are the whole days elapsed. `days_since_last_order` reads the last order, or the sign-up
when there is no order yet. `birthday_month: "current"` is the month of `now` (UTC).

Absent values: a comparison with a value the customer does not have (no birthday, no such attribute,
no sign-up time) is false, and `ne` is exactly "not eq", so it is true for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from couponry.domain.errors import InvalidSegment

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "in")
ORDER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")
INT_FIELDS = ("order_count", "total_spent")
DAYS_FIELDS = {"days_since_signup": "signed_up_at", "days_since_last_order": "last_activity_at"}
FIELDS = (*INT_FIELDS, *DAYS_FIELDS, "birthday_month", "tags", "marketing_consent", "attributes.NAME")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_RULES = 50
MAX_IN_VALUES = 1000

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Rule:
    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Segment:
    """Checked rules: every field, op and value is one this module understands."""

    match: str
    rules: tuple[Rule, ...]

    def as_data(self) -> list[dict[str, Any]]:
        return [{"field": r.field, "op": r.op, "value": r.value} for r in self.rules]


# --- the resolved tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """`column op value` on a stored column: order_count, total_spent, marketing_consent, birth_month,
    signed_up_at, last_activity_at. Op is eq, gt, gte, lt or lte."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class OneOf:
    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class HasTag:
    tag: str


@dataclass(frozen=True, slots=True)
class Attribute:
    """An attribute of the given JSON type ("string", "number", "boolean") compared with a value.

    eq: equal; gt/gte/lt/lte: numbers only; contains: a list attribute holding the value, or a
    string attribute containing the (string) value."""

    name: str
    op: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class Not:
    part: Predicate


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Predicate, ...]


Predicate = Compare | OneOf | HasTag | Attribute | Not | AllOf | AnyOf


# --- parsing --------------------------------------------------------------------------------------


def parse_segment(match: Any, rules: Any) -> Segment:
    if match not in ("all", "any"):
        raise InvalidSegment("match", 'must be "all" or "any"')
    if not isinstance(rules, list):
        raise InvalidSegment("rules", "must be a list of {field, op, value}")
    if len(rules) > MAX_RULES:
        raise InvalidSegment("rules", f"at most {MAX_RULES} rules")
    return Segment(match, tuple(_rule(i, r) for i, r in enumerate(rules)))


def _rule(index: int, data: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(data, Mapping) or set(data) != {"field", "op", "value"}:
        raise InvalidSegment(where, "must be an object with exactly field, op and value")
    field, op, value = data["field"], data["op"], data["value"]
    if not isinstance(field, str) or not (field in FIELDS[:-1] or field.startswith("attributes.")):
        raise InvalidSegment(f"{where}.field", f"unknown field {field!r}; known: {', '.join(FIELDS)}")
    if op not in OPS:
        raise InvalidSegment(f"{where}.op", f"unknown op {op!r}; known: {', '.join(OPS)}")
    allowed, check = _FIELD_RULES.get(field) or _FIELD_RULES["attributes.NAME"]
    if op not in allowed:
        raise InvalidSegment(f"{where}.op", f"{field} takes {', '.join(allowed)}, not {op}")
    if field.startswith("attributes.") and not ATTRIBUTE_NAME.fullmatch(field.removeprefix("attributes.")):
        raise InvalidSegment(f"{where}.field", "an attribute name is letters, digits and _ (at most 64)")
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            raise InvalidSegment(f"{where}.value", f"in takes a list of 1 to {MAX_IN_VALUES} values")
        for v in value:
            check(f"{where}.value", op, v)
    else:
        check(f"{where}.value", op, value)
    return Rule(field, op, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(where: str, op: str, value: Any) -> None:
    if not _is_int(value):
        raise InvalidSegment(where, "must be an integer")


def _days(where: str, op: str, value: Any) -> None:
    if not _is_int(value) or value < 0:
        raise InvalidSegment(where, "must be a whole number of days (>= 0)")


def _month(where: str, op: str, value: Any) -> None:
    if value != "current" and not (_is_int(value) and 1 <= value <= 12):
        raise InvalidSegment(where, 'must be a month 1-12 or "current"')


def _bool(where: str, op: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidSegment(where, "must be true or false")


def _tag(where: str, op: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidSegment(where, "must be a non-empty tag")


def _attribute(where: str, op: str, value: Any) -> None:
    if op in ("gt", "gte", "lt", "lte"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidSegment(where, f"{op} compares numbers")
    elif not isinstance(value, str | int | float):  # bool is an int
        raise InvalidSegment(where, "must be a string, a number or a boolean")


_FIELD_RULES = {
    "order_count": (ORDER_OPS, _int),
    "total_spent": (ORDER_OPS, _int),
    "days_since_signup": (ORDER_OPS, _days),
    "days_since_last_order": (ORDER_OPS, _days),
    "birthday_month": (ORDER_OPS, _month),
    "tags": (("contains", "in"), _tag),
    "marketing_consent": (("eq", "ne"), _bool),
    "attributes.NAME": (OPS, _attribute),
}


# --- resolving at a moment ------------------------------------------------------------------------


def predicate(segment: Segment, now: datetime) -> Predicate:
    parts = tuple(_resolve(rule, now) for rule in segment.rules)
    return AllOf(parts) if segment.match == "all" else AnyOf(parts)


def _resolve(rule: Rule, now: datetime) -> Predicate:
    field, op, value = rule.field, rule.op, rule.value
    if field == "tags":
        return HasTag(value) if op == "contains" else AnyOf(tuple(HasTag(v) for v in value))
    if field.startswith("attributes."):
        name = field.removeprefix("attributes.")
        if op == "in":
            return AnyOf(tuple(Attribute(name, "eq", v) for v in value))
        return Not(Attribute(name, "eq", value)) if op == "ne" else Attribute(name, op, value)
    if field in DAYS_FIELDS:
        return _days_rule(DAYS_FIELDS[field], op, value, now)
    column = "birth_month" if field == "birthday_month" else field
    if field == "birthday_month":
        value = [now.month if v == "current" else v for v in value] if op == "in" else value
        value = now.month if value == "current" else value
    if op == "in":
        return OneOf(column, tuple(value))
    return Not(Compare(column, "eq", value)) if op == "ne" else Compare(column, op, value)


def _days_rule(column: str, op: str, days: Any, now: datetime) -> Predicate:
    """Whole days elapsed since `column` compared with `days`, as bounds on the timestamp itself."""

    def before(n: int) -> datetime:  # elapsed >= n days  <=>  column <= now - n days
        return now - timedelta(days=n)

    def exactly(n: int) -> Predicate:
        return AllOf((Compare(column, "lte", before(n)), Compare(column, "gt", before(n + 1))))

    if op == "in":
        return AnyOf(tuple(exactly(n) for n in days))
    return {
        "gte": lambda: Compare(column, "lte", before(days)),
        "gt": lambda: Compare(column, "lte", before(days + 1)),
        "lte": lambda: Compare(column, "gt", before(days + 1)),
        "lt": lambda: Compare(column, "gt", before(days)),
        "eq": lambda: exactly(days),
        "ne": lambda: Not(exactly(days)),
    }[op]()


# --- the specification in Python -----------------------------------------------------------------


def customer_facts(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a predicate reads, from a profile (birthday "YYYY-MM-DD", tags, attributes ...)."""
    birthday = profile.get("birthday")
    return {
        "order_count": profile.get("order_count", 0),
        "total_spent": profile.get("total_spent", 0),
        "marketing_consent": bool(profile.get("marketing_consent")),
        "birth_month": int(birthday[5:7]) if birthday else None,
        "signed_up_at": profile.get("signed_up_at"),
        "last_activity_at": profile.get("last_order_at") or profile.get("signed_up_at"),
        "tags": set(profile.get("tags") or ()),
        "attributes": dict(profile.get("attributes") or {}),
    }


def evaluate(pred: Predicate, facts: Mapping[str, Any]) -> bool:
    """Whether a customer (`customer_facts`) satisfies the predicate: what the SQL must agree with."""
    if isinstance(pred, AllOf):
        return all(evaluate(p, facts) for p in pred.parts)
    if isinstance(pred, AnyOf):
        return any(evaluate(p, facts) for p in pred.parts)
    if isinstance(pred, Not):
        return not evaluate(pred.part, facts)
    if isinstance(pred, HasTag):
        return pred.tag in facts["tags"]
    if isinstance(pred, OneOf):
        return facts[pred.column] is not None and facts[pred.column] in pred.values
    if isinstance(pred, Compare):
        have = facts[pred.column]
        return have is not None and _compare(have, pred.op, pred.value)
    return _attribute_matches(pred, facts["attributes"])


def json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _attribute_matches(pred: Attribute, attributes: Mapping[str, Any]) -> bool:
    if pred.name not in attributes:
        return False
    have, want = attributes[pred.name], pred.value
    if pred.op == "contains":
        if isinstance(have, list):
            return any(json_type(h) == json_type(want) and h == want for h in have)
        return isinstance(have, str) and isinstance(want, str) and want in have
    return json_type(have) == json_type(want) and _compare(have, pred.op, want)


def _compare(have: Any, op: str, want: Any) -> bool:
    if op == "eq":
        return have == want
    if op == "gt":
        return have > want
    if op == "gte":
        return have >= want
    if op == "lt":
        return have < want
    return have <= want
