"""The campaign form of the dashboard: between the flat fields a browser posts and the JSON-shaped
campaign the API takes (API.md "Campaigns"), so the form goes through the same schema and service.

Form fields are named by the API's field paths ("discount.amount", "limits.budget"), which are also
the `field` of every validation error, so an error lands beside its input. Amounts are typed as
decimals ("12.50") and sent as minor units; lists are comma-separated; time windows and tiers are one
per line. `to_spec()` returns the spec and the errors found while reading the form (a number that is
not a number); the schema and the service then add theirs with the same field names.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from couponry.api.problems import _field as field_of_loc

DISCOUNT_TYPES = {
    "amount": "Amount off the order",
    "amount_per_item": "Amount off each item",
    "percent": "Percent off",
    "free_shipping": "Free shipping",
    "tiered": "Tiered: spend more, save more",
}
STACKING = {
    "exclusive": "Exclusive (no other coupon)",
    "item": "Item layer",
    "order": "Order layer",
    "shipping": "Shipping layer",
}
STATUSES = ("draft", "active", "paused", "archived")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LIST_FIELDS = (
    "scope.products",
    "scope.categories",
    "scope.brands",
    "scope.exclude_products",
    "scope.exclude_categories",
    "scope.exclude_brands",
    "conditions.customer_tags",
    "conditions.shipping_countries",
    "claim.products",
    "claim.categories",
)
_WINDOW = re.compile(
    r"^(?P<days>[a-z, ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})(?:\s+(?P<tz>\S+))?$"
)
_TIER = re.compile(r"^(?P<min>[\d.,]+)\s*[=:>-]+\s*(?P<amount>[\d.,]+)$")


class Reader:
    """Reads typed values out of a posted form, collecting an error per field that cannot be read."""

    def __init__(self, form: dict[str, str]) -> None:
        self.form = form
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        return (self.form.get(name) or "").strip()

    def optional_text(self, name: str) -> str | None:
        return self.text(name) or None

    def flag(self, name: str) -> bool:
        return self.form.get(name) in ("on", "true", "1", "yes")

    def money(self, name: str) -> int | None:
        raw = self.text(name).replace(",", "")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.errors[name] = "must be an amount such as 12.50"
            return None
        if not value.is_finite() or value != value.quantize(Decimal("0.01")):
            self.errors[name] = "must be an amount with at most 2 decimals"
            return None
        return int(value * 100)

    def whole(self, name: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        if not re.fullmatch(r"-?\d{1,12}", raw):
            self.errors[name] = "must be a whole number"
            return None
        return int(raw)

    def decimal(self, name: str) -> str | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.errors[name] = "must be a number"
            return None
        return str(value) if value.is_finite() else None

    def items(self, name: str) -> list[str]:
        return [part.strip() for part in self.text(name).split(",") if part.strip()]

    def moment(self, name: str) -> str | None:
        """A datetime-local value ("2026-12-31T23:59"), taken as UTC, as RFC 3339 text."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            self.errors[name] = "must be a date and time such as 2026-12-31T23:59"
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _discount(r: Reader) -> dict[str, Any]:
    kind = r.text("discount.type") or "amount"
    d: dict[str, Any] = {"type": kind}
    if kind in ("amount", "amount_per_item"):
        d["amount"] = r.money("discount.amount")
    if kind == "amount_per_item":
        d["max_items"] = r.whole("discount.max_items")
    if kind == "percent":
        d["percent"] = r.decimal("discount.percent")
        d["max_amount"] = r.money("discount.max_amount")
        d["max_items"] = r.whole("discount.max_items")
    if kind == "free_shipping":
        d["max_amount"] = r.money("discount.max_amount")
    if kind == "tiered":
        tiers = []
        for number, line in enumerate(r.text("discount.tiers").splitlines(), 1):
            if not line.strip():
                continue
            match = _TIER.match(line.strip())
            if not match:
                r.errors["discount.tiers"] = (
                    f"line {number}: write each tier as SPEND = OFF, e.g. 100.00 = 10.00"
                )
                break
            sub = Reader({"min": match["min"], "amount": match["amount"]})
            tier = {"min_spend": sub.money("min"), "amount": sub.money("amount")}
            if sub.errors:
                r.errors["discount.tiers"] = f"line {number}: amounts such as 100.00"
                break
            tiers.append(tier)
        d["tiers"] = tiers
    for name in ("amount", "percent"):
        if name in d and d[name] is None and f"discount.{name}" not in r.errors:
            r.errors[f"discount.{name}"] = "required for this discount type"
    if kind == "tiered" and not d["tiers"] and "discount.tiers" not in r.errors:
        r.errors["discount.tiers"] = "give at least one tier"
    return {k: v for k, v in d.items() if v is not None}


def _time_windows(r: Reader) -> list[dict[str, Any]]:
    windows = []
    for number, line in enumerate(r.text("conditions.time_windows").splitlines(), 1):
        line = line.strip().lower()
        if not line:
            continue
        match = _WINDOW.match(line)
        days = [d.strip() for d in (match["days"].split(",") if match else []) if d.strip()]
        if not match or not days or any(d not in DAYS for d in days):
            r.errors["conditions.time_windows"] = (
                f"line {number}: write DAYS START-END [TIME ZONE], e.g. mon,tue 14:00-17:00 Europe/Oslo"
            )
            break
        tz = match["tz"]
        windows.append(
            {
                "days": days,
                "start": match["start"].zfill(5),
                "end": match["end"].zfill(5),
                "timezone": _zone_case(tz) if tz else "UTC",
            }
        )
    return windows


def _zone_case(tz: str) -> str:
    """Lines are lower-cased to read the days: give a zone like europe/oslo its IANA spelling back."""
    if tz.lower() == "utc":
        return "UTC"
    return "/".join("_".join(w.capitalize() for w in part.split("_")) for part in tz.split("/"))


def to_spec(form: dict[str, str], *, is_admin: bool, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The campaign (API.md's JSON shape) a posted form describes, and the fields that could not be read."""
    r = Reader(form)
    spec: dict[str, Any] = {
        "name": r.text("name"),
        "discount": _discount(r),
        "scope": {
            "products": r.items("scope.products"),
            "categories": r.items("scope.categories"),
            "brands": r.items("scope.brands"),
            "exclude_products": r.items("scope.exclude_products"),
            "exclude_categories": r.items("scope.exclude_categories"),
            "exclude_brands": r.items("scope.exclude_brands"),
            "exclude_on_sale": r.flag("scope.exclude_on_sale"),
            "require_all_items": r.flag("scope.require_all_items"),
        },
        "conditions": {
            "min_spend": r.money("conditions.min_spend"),
            "min_quantity": r.whole("conditions.min_quantity"),
            "first_order_only": r.flag("conditions.first_order_only"),
            "customer_tags": r.items("conditions.customer_tags"),
            "segment_id": r.optional_text("conditions.segment_id"),
            "channels": [c for c in ("online", "pos") if r.flag(f"conditions.channels.{c}")],
            "shipping_countries": [c.upper() for c in r.items("conditions.shipping_countries")],
            "time_windows": _time_windows(r),
        },
        "validity": {
            "starts_at": r.moment("validity.starts_at"),
            "ends_at": r.moment("validity.ends_at"),
            "days_after_issue": r.whole("validity.days_after_issue"),
        },
        "limits": {
            "max_redemptions": r.whole("limits.max_redemptions"),
            "budget": r.money("limits.budget"),
            "per_coupon": r.whole("limits.per_coupon"),
            "per_customer": r.whole("limits.per_customer"),
        },
        "stacking": r.text("stacking") or "order",
        "code_config": {
            "length": r.whole("code_config.length") or 12,
            "prefix": r.text("code_config.prefix"),
            "suffix": r.text("code_config.suffix"),
            "pattern": r.optional_text("code_config.pattern"),
        },
        "status": r.text("status") or "active",
        "public": r.flag("public"),
    }
    if r.flag("claim.enabled"):
        spec["claim"] = {
            "stock": r.whole("claim.stock"),
            "per_customer": r.whole("claim.per_customer") or 1,
            "starts_at": r.moment("claim.starts_at"),
            "ends_at": r.moment("claim.ends_at"),
            "products": r.items("claim.products"),
            "categories": r.items("claim.categories"),
        }
    if creating:
        spec["currency"] = r.text("currency").upper()
        if is_admin and r.text("issuer.type") == "store":
            spec["issuer"] = {"type": "store", "store_id": r.text("issuer.store_id")}
        elif is_admin:
            spec["issuer"] = {"type": "platform"}
        # a store user's campaigns are its store's: the service fills the issuer in
    return spec, r.errors


_INDEX = re.compile(r"\[\d+\].*$")


def form_field(field: str) -> str:
    """The form input an API field path belongs to: discount.tiers[1].amount -> discount.tiers."""
    field = _INDEX.sub("", field)
    if field.startswith("conditions.channels"):
        return "conditions.channels"
    if field in ("discount.min_spend",):
        return "discount.tiers"
    return field


def schema_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        field = form_field(field_of_loc(("body", *e["loc"])))
        errors.setdefault(field, e["msg"].removeprefix("Value error, "))
    return errors


def _money_text(minor: int | None) -> str:
    if minor is None:
        return ""
    return f"{Decimal(minor) / 100:.2f}"


def _moment_text(value: Any) -> str:
    if not value:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _join(values: list[str] | None) -> str:
    return ", ".join(values or [])


def to_form(c: dict[str, Any]) -> dict[str, str]:
    """A stored campaign as the form's values (to edit it)."""
    d, scope, cond, validity = c["discount"], c["scope"], c["conditions"], c["validity"]
    limits, code = c["limits"], c["code_config"]
    values: dict[str, Any] = {
        "name": c["name"],
        "currency": c["currency"],
        "issuer.type": c["issuer"]["type"],
        "issuer.store_id": c["issuer"].get("store_id") or "",
        "status": c["status"],
        "stacking": c["stacking"],
        "public": c.get("public", False),
        "discount.type": d["type"],
        "discount.amount": _money_text(d.get("amount")),
        "discount.percent": str(Decimal(str(d["percent"])).normalize())
        if d.get("percent") is not None
        else "",
        "discount.max_amount": _money_text(d.get("max_amount")),
        "discount.max_items": d.get("max_items") or "",
        "discount.tiers": "\n".join(
            f"{_money_text(t['min_spend'])} = {_money_text(t['amount'])}" for t in d.get("tiers") or []
        ),
        "scope.exclude_on_sale": scope["exclude_on_sale"],
        "scope.require_all_items": scope["require_all_items"],
        "conditions.min_spend": _money_text(cond.get("min_spend")),
        "conditions.min_quantity": cond.get("min_quantity") or "",
        "conditions.first_order_only": cond["first_order_only"],
        "conditions.segment_id": cond.get("segment_id") or "",
        "conditions.channels.online": "online" in cond["channels"],
        "conditions.channels.pos": "pos" in cond["channels"],
        "conditions.time_windows": "\n".join(
            f"{','.join(w['days'])} {str(w['start'])[:5]}-{str(w['end'])[:5]} {w.get('timezone', 'UTC')}"
            for w in cond.get("time_windows") or []
        ),
        "validity.starts_at": _moment_text(validity.get("starts_at")),
        "validity.ends_at": _moment_text(validity.get("ends_at")),
        "validity.days_after_issue": validity.get("days_after_issue") or "",
        "limits.max_redemptions": limits.get("max_redemptions") or "",
        "limits.budget": _money_text(limits.get("budget")),
        "limits.per_coupon": limits.get("per_coupon") or "",
        "limits.per_customer": limits.get("per_customer") or "",
        "code_config.length": code.get("length") or 12,
        "code_config.prefix": code.get("prefix") or "",
        "code_config.suffix": code.get("suffix") or "",
        "code_config.pattern": code.get("pattern") or "",
    }
    for name in LIST_FIELDS:
        section, key = name.split(".")
        if section == "claim":
            continue
        values[name] = _join((c[section] or {}).get(key))
    claim = c.get("claim")
    values["claim.enabled"] = claim is not None
    if claim:
        values.update(
            {
                "claim.stock": "" if claim.get("stock") is None else claim["stock"],
                "claim.per_customer": claim.get("per_customer") or 1,
                "claim.starts_at": _moment_text(claim.get("starts_at")),
                "claim.ends_at": _moment_text(claim.get("ends_at")),
                "claim.products": _join(claim.get("products")),
                "claim.categories": _join(claim.get("categories")),
            }
        )
    return {k: v if isinstance(v, bool) else str(v) for k, v in values.items()}


def blank_form() -> dict[str, Any]:
    return {
        "currency": "USD",
        "issuer.type": "platform",
        "status": "active",
        "stacking": "order",
        "discount.type": "amount",
        "conditions.channels.online": True,
        "conditions.channels.pos": True,
        "code_config.length": "12",
        "claim.per_customer": "1",
    }


def posted_values(form: dict[str, str]) -> dict[str, Any]:
    """What the user typed, to show again beside the errors (checkboxes as booleans)."""
    values: dict[str, Any] = dict(form)
    for name in (
        "public",
        "scope.exclude_on_sale",
        "scope.require_all_items",
        "conditions.first_order_only",
        "conditions.channels.online",
        "conditions.channels.pos",
        "claim.enabled",
    ):
        values[name] = form.get(name) in ("on", "true", "1", "yes")
    return values
