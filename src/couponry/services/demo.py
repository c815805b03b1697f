"""A demo shop: campaigns of every kind, with codes, a loyalty program with a reward and a prize wheel,
and one customer with points, so `couponry serve --demo` has something to show on every page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns as campaigns_table
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.customers import customers
from couponry.services.distribution.links import coupon_links
from couponry.services.ids import utcnow
from couponry.services.loyalty import program, rewards, wheels

DEMO_CAMPAIGNS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {
            "name": "Welcome 10%",
            "currency": "USD",
            "discount": {"type": "percent", "percent": 10, "max_amount": 2000},
            "conditions": {"first_order_only": True},
            "limits": {"per_customer": 1},
        },
        ["WELCOME10"],
    ),
    (
        {
            "name": "Spend 100 get 10",
            "currency": "USD",
            "discount": {"type": "amount", "amount": 1000},
            "conditions": {"min_spend": 10000},
            "limits": {"max_redemptions": 1000, "budget": 500000},
        },
        ["SAVE10"],
    ),
    (
        {
            "name": "Free shipping over 50",
            "currency": "USD",
            "stacking": "shipping",
            "discount": {"type": "free_shipping", "max_amount": 1500},
            "conditions": {"min_spend": 5000},
        },
        ["FREESHIP"],
    ),
    (
        {
            "name": "Shoes tiered",
            "currency": "USD",
            "stacking": "item",
            "discount": {
                "type": "tiered",
                "tiers": [{"min_spend": 10000, "amount": 1000}, {"min_spend": 20000, "amount": 2500}],
            },
            "scope": {"categories": ["shoes"], "exclude_on_sale": True},
        },
        ["SHOES"],
    ),
    (
        {
            "name": "Happy hour 15% (weekdays 14-17 UTC)",
            "currency": "USD",
            "discount": {"type": "percent", "percent": 15},
            "conditions": {
                "time_windows": [
                    {
                        "days": ["mon", "tue", "wed", "thu", "fri"],
                        "start": "14:00",
                        "end": "17:00",
                        "timezone": "UTC",
                    }
                ]
            },
        },
        ["HAPPYHOUR"],
    ),
    (
        {
            "name": "Store s1: 5 off each sock",
            "currency": "USD",
            "issuer": {"type": "store", "store_id": "s1"},
            "stacking": "item",
            "discount": {"type": "amount_per_item", "amount": 500, "max_items": 3},
            "scope": {"categories": ["socks"]},
        },
        ["S1SOCKS"],
    ),
]


def _campaign(spec: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        "issuer": {"type": "platform"},
        "scope": {},
        "conditions": {},
        "validity": {},
        "limits": {},
        "stacking": "order",
        "code_config": {"length": 12, "prefix": "", "suffix": "", "pattern": None},
        "status": "active",
    }
    full = {**defaults, **spec}
    from couponry.api.schemas.campaigns import CampaignCreate

    return CampaignCreate.model_validate(full).model_dump(mode="json")


def seed_demo(db: Database) -> list[str]:
    """Create the demo shop once (campaigns idempotent by name); returns a line per campaign and one for
    the loyalty program, each labelled, for the console."""
    now = utcnow()
    lines = []
    with db.read() as conn:
        existing = set(conn.execute(select(campaigns_table.c.name)).scalars())
    for spec, codes in DEMO_CAMPAIGNS:
        if spec["name"] in existing:
            continue
        created = campaigns.create_campaign(db, SYSTEM, _campaign(spec), now)
        coupons.issue_codes(db, SYSTEM, created["id"], codes=codes, count=None, customer_id=None, now=now)
        lines.append(f"campaign  {spec['name']}: {', '.join(codes)}")
    personal = next((c for c in DEMO_CAMPAIGNS if c[0]["name"] == "Spend 100 get 10"), None)
    if personal and not existing:
        customers.put_customer(
            db,
            SYSTEM,
            "demo-customer",
            {"email": "ada@example.com", "name": "Ada", "tags": ["vip"], "marketing_consent": True},
            now,
        )
        vip = campaigns.create_campaign(
            db,
            SYSTEM,
            _campaign(
                {
                    "name": "VIP birthday 20 off",
                    "currency": "USD",
                    "discount": {"type": "amount", "amount": 2000},
                    "conditions": {"customer_tags": ["vip"]},
                    "validity": {"days_after_issue": 30},
                    "limits": {"per_coupon": 1},
                }
            ),
            now,
        )
        _, issued = coupons.issue_codes(
            db,
            SYSTEM,
            vip["id"],
            codes=None,
            count=1,
            customer_id="demo-customer",
            now=now + timedelta(seconds=0),
        )
        code = issued["codes"][0]
        page = coupon_links(db).url(code, "demo-customer")  # the holder's page: slide to redeem there
        lines.append(f"campaign  VIP birthday 20 off (personal to demo-customer): {code}  page: {page}")
        lines.append(_seed_loyalty(db, now))
    return lines


DEMO_PROGRAM = {
    "earn_points": 1,
    "per_amount": 100,  # a point per 1.00 spent
    "point_value": 1,
    "pending_days": 30,
    "expiry_days": 365,
    "multipliers": [{"categories": ["shoes"], "factor": 2}],
}


def _seed_loyalty(db: Database, now: datetime) -> str:
    """The points program, a reward and a prize wheel (both giving the free-shipping campaign's coupons),
    and `demo-customer` as a member with 250 points to spend in the customer pages."""
    with db.read() as conn:
        freeship = conn.execute(
            select(campaigns_table.c.id).where(campaigns_table.c.name == "Free shipping over 50")
        ).scalar_one()
    from couponry.api.schemas.loyalty import ProgramIn, RewardIn, WheelIn  # their defaults, as the API's

    program.put_program(db, SYSTEM, ProgramIn.model_validate(DEMO_PROGRAM).model_dump(), now)
    program.join(db, SYSTEM, "demo-customer", now)
    program.adjust(db, SYSTEM, {"customer_id": "demo-customer", "points": 250, "reason": "Demo welcome"}, now)
    reward = {"name": "Free shipping", "points": 100, "campaign_id": freeship, "stock": 100}
    rewards.create_reward(db, SYSTEM, RewardIn.model_validate(reward).model_dump(), now)
    prizes = [
        {"kind": "points", "points": 50, "weight": 2, "stock": 100},
        {"kind": "coupon", "campaign_id": freeship, "weight": 1, "stock": 50},
        {"kind": "nothing", "weight": 5},
    ]
    wheel = {"name": "Daily wheel", "cost_points": 20, "free_spins_per_day": 1, "prizes": prizes}
    wheels.create_wheel(db, SYSTEM, WheelIn.model_validate(wheel).model_dump(), now)
    return "loyalty   1 point per 1.00 (double on shoes); demo-customer has 250 points, a reward and a wheel"
