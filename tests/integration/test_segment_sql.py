"""The SQL of a segment selects exactly the customers the pure rules (domain.segments.evaluate) select,
on SQLite and PostgreSQL, over a varied population and many random segments."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.segment_sql import where
from couponry.adapters.db.segments import memberships
from couponry.adapters.db.tables import customers, segments
from couponry.domain.segments import customer_facts, evaluate, parse_segment, predicate

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
TAGS = ["vip", "new", "b2b", "o'brien", "ü"]
ATTRIBUTE_VALUES: list[Any] = [
    "gold",
    "silver",
    "Oslo",
    3,
    2.5,
    0,
    True,
    False,
    ["cat", "dog"],
    [41, 42],
    None,
]


def population(rng: random.Random, n: int) -> list[dict[str, Any]]:
    people = []
    for i in range(n):
        signed_up = NOW - timedelta(
            days=rng.choice([0, 1, 29, 30, 31, 89, 90, 91, 400]), hours=rng.choice([0, 1, 23])
        )
        attributes = {}
        for name in ("plan", "level", "pets"):
            value = rng.choice(ATTRIBUTE_VALUES)
            if value is not None:
                attributes[name] = value
        people.append(
            {
                "id": f"c{i:04d}",
                "tags": rng.sample(TAGS, rng.randint(0, 2)),
                "attributes": attributes,
                "marketing_consent": rng.random() < 0.5,
                "order_count": rng.choice([0, 0, 1, 2, 5]),
                "total_spent": rng.choice([0, 999, 1000, 25000]),
                "birthday": rng.choice([None, "1990-05-20", "1985-12-01", "2000-01-31"]),
                "signed_up_at": rng.choice([signed_up, signed_up, None]),
                "last_order_at": rng.choice([None, NOW - timedelta(days=rng.choice([0, 5, 90, 91]))]),
                "referral_code": f"r-{i:014d}",
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    return people


def random_rule(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(
        ["order_count", "total_spent", "days_since_signup", "days_since_last_order", "birthday_month", "tags",
         "marketing_consent", "attributes.plan", "attributes.level", "attributes.pets"]
    )  # fmt: skip
    if field == "tags":
        op = rng.choice(["contains", "in"])
        return {
            "field": field,
            "op": op,
            "value": rng.choice(TAGS) if op == "contains" else rng.sample(TAGS, 2),
        }
    if field == "marketing_consent":
        return {"field": field, "op": rng.choice(["eq", "ne"]), "value": rng.random() < 0.5}
    op = rng.choice(
        ["eq", "ne", "gt", "gte", "lt", "lte", "in"] + (["contains"] if "attributes" in field else [])
    )
    if field.startswith("attributes."):
        scalars = [v for v in ATTRIBUTE_VALUES if v is not None and not isinstance(v, list)] + [
            "cat",
            42,
            "sl",
        ]
        if op in ("gt", "gte", "lt", "lte"):
            value: Any = rng.choice([0, 2, 2.5, 3, 4])
        elif op == "in":
            value = rng.sample(scalars, 2)
        else:
            value = rng.choice(scalars)
    elif field == "birthday_month":
        value = rng.sample([1, 5, 12, "current"], 2) if op == "in" else rng.choice([1, 5, 12, "current"])
    else:
        numbers = [0, 1, 2, 5, 29, 30, 31, 90, 999, 1000]
        value = rng.sample(numbers, 2) if op == "in" else rng.choice(numbers)
    return {"field": field, "op": op, "value": value}


def test_sql_and_the_pure_rules_select_the_same_customers(db: Database) -> None:
    rng = random.Random(20260520)
    people = population(rng, 240)
    with db.write() as conn:
        conn.execute(insert(customers), people)
    facts = {p["id"]: customer_facts(p) for p in people}
    checked = 0
    for _ in range(200):
        segment = parse_segment(
            rng.choice(["all", "any"]), [random_rule(rng) for _ in range(rng.randint(1, 3))]
        )
        pred = predicate(segment, NOW)
        expected = sorted(cid for cid, f in facts.items() if evaluate(pred, f))
        with db.read() as conn:
            got = list(
                conn.execute(
                    select(customers.c.id).where(where(pred, conn.dialect.name)).order_by(customers.c.id)
                ).scalars()
            )
        assert got == expected, segment
        checked += bool(expected) and len(expected) < len(people)
    assert checked > 60  # most segments split the population: the comparison is not vacuous


def test_membership_of_one_customer_is_read_in_one_query_on_its_row(db: Database) -> None:
    with db.write() as conn:
        conn.execute(insert(customers), population(random.Random(1), 3))
        conn.execute(
            insert(segments),
            [
                {"id": "big", "name": "b", "match": "all", "rules": [], "created_at": NOW},
                {"id": "none", "name": "n", "match": "any", "rules": [], "created_at": NOW},
            ],
        )
    with db.read() as conn:
        assert memberships(conn, "c0001", ["big", "none", "missing"], NOW) == frozenset({"big"})
        assert memberships(conn, "nobody", ["big"], NOW) == frozenset()
