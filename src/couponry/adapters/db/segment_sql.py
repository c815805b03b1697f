"""Segment predicates (couponry.domain.segments) as SQL on the customers table, SQLite and PostgreSQL.

Only the JSON columns differ between the two: tags and attributes are read with json_each /
json_extract / json_type on SQLite and as jsonb (`@>`, `->`, jsonb_typeof) on PostgreSQL. Every
value is a bound parameter; attribute names are checked by the domain before they reach a JSON path.
A negation is taken over `coalesce(part, false)`, so a comparison with a missing value (NULL) is false
and its `ne` is true, exactly as `domain.segments.evaluate` says.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from couponry.adapters.db.tables import UTC, customers
from couponry.domain.segments import (
    AllOf,
    AnyOf,
    Attribute,
    Compare,
    HasTag,
    Not,
    OneOf,
    Predicate,
    json_type,
)

_SQLITE_TYPES = {"number": ("integer", "real"), "string": ("text",), "boolean": ("true", "false")}


def where(pred: Predicate, dialect: str) -> ColumnElement[bool]:
    """The predicate as a boolean SQL expression over `customers`."""
    if isinstance(pred, AllOf):
        return and_(true(), *(where(p, dialect) for p in pred.parts))
    if isinstance(pred, AnyOf):
        return or_(false(), *(where(p, dialect) for p in pred.parts))
    if isinstance(pred, Not):
        return not_(func.coalesce(where(pred.part, dialect), false()))
    if isinstance(pred, Compare):
        column = _column(pred.column)
        value = _bind(pred.column, pred.value)
        return {
            "eq": column == value,
            "gt": column > value,
            "gte": column >= value,
            "lt": column < value,
            "lte": column <= value,
        }[pred.op]
    if isinstance(pred, OneOf):
        return _column(pred.column).in_([_bind(pred.column, v) for v in pred.values])
    if isinstance(pred, HasTag):
        return _has_tag_postgres(pred.tag) if dialect == "postgresql" else _has_tag_sqlite(pred.tag)
    if dialect == "postgresql":
        return _attribute_postgres(pred)
    return _attribute_sqlite(pred)


def _column(name: str) -> ColumnElement[Any]:
    if name == "birth_month":  # birthday is "YYYY-MM-DD"
        return cast(func.substr(customers.c.birthday, 6, 2), Integer)
    if name == "last_activity_at":  # no order yet: the time since sign-up
        return type_coerce(func.coalesce(customers.c.last_order_at, customers.c.signed_up_at), UTC)
    return customers.c[name]


def _bind(column: str, value: Any) -> Any:
    if column in ("signed_up_at", "last_activity_at"):
        return literal(value, UTC)
    return literal(value)


def _has_tag_sqlite(tag: str) -> ColumnElement[bool]:
    each = func.json_each(customers.c.tags).table_valued("value")
    return select(1).select_from(each).where(each.c.value == tag).exists()


def _has_tag_postgres(tag: str) -> ColumnElement[bool]:
    return cast(customers.c.tags, JSONB).contains(cast(literal(json.dumps([tag]), String), JSONB))


def _attribute_sqlite(pred: Attribute) -> ColumnElement[bool]:
    path = f'$."{pred.name}"'
    kind = func.json_type(customers.c.attributes, path)
    value = func.json_extract(customers.c.attributes, path)
    types = _SQLITE_TYPES[json_type(pred.value) or "string"]
    wanted = literal(pred.value)
    if pred.op == "contains":
        each = func.json_each(customers.c.attributes, path).table_valued("value", "type")
        member = and_(
            kind == "array",
            select(1).select_from(each).where(each.c.type.in_(types), each.c.value == wanted).exists(),
        )
        if isinstance(pred.value, str):
            return or_(member, and_(kind == "text", func.instr(value, pred.value) > 0))
        return member
    compared = {
        "eq": value == wanted,
        "gt": value > wanted,
        "gte": value >= wanted,
        "lt": value < wanted,
        "lte": value <= wanted,
    }[pred.op]
    return and_(kind.in_(types), compared)


def _attribute_postgres(pred: Attribute) -> ColumnElement[bool]:
    element = cast(customers.c.attributes, JSONB)[pred.name]
    kind = func.jsonb_typeof(element)
    if pred.op == "eq":
        return element == cast(literal(json.dumps(pred.value), String), JSONB)
    if pred.op == "contains":
        wanted = cast(literal(json.dumps([pred.value]), String), JSONB)
        member = and_(kind == "array", element.contains(wanted))
        if isinstance(pred.value, str):
            return or_(member, and_(kind == "string", func.strpos(element.astext, pred.value) > 0))
        return member
    # CASE guards the cast: PostgreSQL does not promise to evaluate an AND's left side first
    number = case((kind == "number", cast(element.astext, Numeric)), else_=None)
    return {
        "gt": number > pred.value,
        "gte": number >= pred.value,
        "lt": number < pred.value,
        "lte": number <= pred.value,
    }[pred.op]
