"""Translating a stored campaign (columns plus the `definition` JSON) into the domain's CampaignRules.

Parsing JSON into frozen dataclasses on every look-up would cost more than the query, so parsed rules
are cached per (campaign id, updated_at): a PATCH from any process changes updated_at and so the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from fractions import Fraction
from typing import Any

from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    CampaignStatus,
    Conditions,
    FreeShipping,
    Issuer,
    Limits,
    PercentOff,
    Scope,
    Stacking,
    Tier,
    Tiered,
    TimeWindow,
    Validity,
    Variant,
)

_CACHE: dict[tuple[str, datetime], CampaignRules] = {}
_CACHE_MAX = 4096


def benefit_from_dict(d: Mapping[str, Any]) -> Benefit:
    kind = d["type"]
    if kind == "amount":
        return AmountOff(d["amount"])
    if kind == "amount_per_item":
        return AmountPerItem(d["amount"], d.get("max_items"))
    if kind == "percent":
        return PercentOff(Fraction(Decimal(str(d["percent"]))), d.get("max_amount"), d.get("max_items"))
    if kind == "free_shipping":
        return FreeShipping(d.get("max_amount"))
    if kind == "tiered":
        return Tiered(tuple(Tier(t["min_spend"], t["amount"]) for t in d["tiers"]))
    raise ValueError(f"unknown discount type {kind!r}")


def _benefit_or_none(d: Mapping[str, Any] | None) -> Benefit | None:
    return benefit_from_dict(d) if d else None  # a variant without a discount: the control group


def _time(value: str) -> time:
    return time.fromisoformat(value)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def rules_from_parts(
    campaign_id: str,
    *,
    currency: str,
    status: str,
    stacking: str,
    definition: Mapping[str, Any],
    max_redemptions: int | None,
    budget: int | None,
    per_coupon: int | None,
    per_customer: int | None,
) -> CampaignRules:
    scope = definition.get("scope") or {}
    cond = definition.get("conditions") or {}
    validity = definition.get("validity") or {}
    issuer = definition.get("issuer") or {"type": "platform"}
    return CampaignRules(
        id=campaign_id,
        currency=currency,
        benefit=benefit_from_dict(definition["discount"]),
        issuer=Issuer(issuer.get("type", "platform"), issuer.get("store_id")),
        scope=Scope(
            products=frozenset(scope.get("products", ())),
            categories=frozenset(scope.get("categories", ())),
            brands=frozenset(scope.get("brands", ())),
            exclude_products=frozenset(scope.get("exclude_products", ())),
            exclude_categories=frozenset(scope.get("exclude_categories", ())),
            exclude_brands=frozenset(scope.get("exclude_brands", ())),
            exclude_on_sale=bool(scope.get("exclude_on_sale", False)),
            require_all_items=bool(scope.get("require_all_items", False)),
        ),
        conditions=Conditions(
            min_spend=cond.get("min_spend"),
            min_quantity=cond.get("min_quantity"),
            first_order_only=bool(cond.get("first_order_only", False)),
            customer_tags=frozenset(cond.get("customer_tags", ())),
            segment_id=cond.get("segment_id"),
            channels=frozenset(cond.get("channels", ("online", "pos"))),
            shipping_countries=frozenset(cond.get("shipping_countries", ())),
            time_windows=tuple(
                TimeWindow(frozenset(w["days"]), _time(w["start"]), _time(w["end"]), w.get("timezone", "UTC"))
                for w in cond.get("time_windows", ())
            ),
        ),
        validity=Validity(
            _dt(validity.get("starts_at")), _dt(validity.get("ends_at")), validity.get("days_after_issue")
        ),
        limits=Limits(max_redemptions, budget, per_coupon, per_customer),
        stacking=Stacking(stacking),
        status=CampaignStatus(status),
        variants=tuple(
            Variant(v["name"], _benefit_or_none(v.get("discount")), float(v.get("weight", 1.0)))
            for v in definition.get("variants") or ()
        ),
    )


def cached_rules(campaign_id: str, updated_at: datetime) -> CampaignRules | None:
    """The rules of this version of the campaign if they were parsed already in this process."""
    return _CACHE.get((campaign_id, updated_at))


def rules_from_row(row: Any, updated_at: datetime | None = None) -> CampaignRules:
    """`row` has the campaigns columns (as attributes); cached by (id, updated_at)."""
    key = (row.id, updated_at or row.updated_at)
    rules = _CACHE.get(key)
    if rules is None:
        rules = rules_from_parts(
            row.id,
            currency=row.currency,
            status=row.status,
            stacking=row.stacking,
            definition=row.definition,
            max_redemptions=row.max_redemptions,
            budget=row.budget,
            per_coupon=row.per_coupon,
            per_customer=row.per_customer,
        )
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = rules
    return rules
