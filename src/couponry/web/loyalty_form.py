"""The loyalty forms of the dashboard: between the flat fields a browser posts and the JSON bodies the
API takes (API.md "Loyalty"), so a form goes through the same schema and service as the API.

Fields are named by the API's field paths with list indexes as dotted numbers ("multipliers.0.factor",
"prizes.2.weight"); the schema's and the services' errors are mapped back onto those names, so each
error lands beside its input. Amounts of money (spend per points, a point's value) are typed as
decimals ("10.00") and sent as minor units; lists of ids are comma-separated.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from couponry.api.problems import _field as field_of_loc
from couponry.web.campaign_form import Reader

PRIZE_KINDS = {"coupon": "A coupon", "points": "Points", "nothing": "Nothing"}
BLANK_ROWS = 2  # empty multiplier / prize rows offered below the filled ones
MAX_ROWS = 50
_INDEXED = re.compile(r"\[(\d+)\]")
_PRIZE_TAG = re.compile(r"^(prizes\.\d+)\.(?:coupon|points|nothing)\.")


def form_field(api_field: str) -> str:
    """An API field path as the form's input name: prizes[0].coupon.campaign_id -> prizes.0.campaign_id."""
    name = _INDEXED.sub(r".\1", api_field)
    return _PRIZE_TAG.sub(r"\1.", name)


def schema_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        loc = tuple(e["loc"])
        field = form_field(field_of_loc(("body", *loc)))
        if len(loc) == 2 and loc[0] == "prizes" and e["type"].startswith("union_tag"):
            field = f"prizes.{loc[1]}.kind"
        errors.setdefault(field, e["msg"].removeprefix("Value error, "))
    return errors


def validated(schema: type[BaseModel], body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The body as the API's schema cleans it, or the errors beside their fields."""
    try:
        return schema.model_validate(body).model_dump(), {}
    except ValidationError as exc:
        return {}, schema_errors(exc)


def money_text(minor: int | None) -> str:
    return "" if minor is None else f"{Decimal(minor) / 100:.2f}"


def _row_numbers(form: dict[str, str], prefix: str) -> list[int]:
    found = {int(m[1]) for k in form if (m := re.match(rf"^{prefix}\.(\d+)\.", k))}
    return sorted(n for n in found if n < MAX_ROWS * 2)


# --- the program ------------------------------------------------------------------------------------


def program_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """PUT /v1/loyalty/program's body from the form, and the fields that could not be read."""
    r = Reader(form)
    body: dict[str, Any] = {
        "earn_points": r.whole("earn_points"),
        "per_amount": r.money("per_amount"),
        "point_value": r.money("point_value"),
        "pending_days": r.whole("pending_days"),
        "expiry_days": r.whole("expiry_days"),
        "multipliers": [],
    }
    for name in ("earn_points", "per_amount", "point_value", "pending_days", "expiry_days"):
        if body[name] is None and name not in r.errors:
            r.errors[name] = "required"
    for i in _row_numbers(form, "multipliers"):
        names = {k: r.items(f"multipliers.{i}.{k}") for k in ("products", "categories", "brands")}
        raw_factor = r.text(f"multipliers.{i}.factor")
        if not raw_factor and not any(names.values()):
            continue  # an empty row
        factor = r.decimal(f"multipliers.{i}.factor")
        if not raw_factor:
            r.errors[f"multipliers.{i}.factor"] = "give the factor, e.g. 2 for double points"
        if not any(names.values()):
            r.errors[f"multipliers.{i}.products"] = "name products, categories or brands"
        index = len(body["multipliers"])
        body["multipliers"].append(
            {**names, "factor": float(factor) if factor is not None else None, "_row": i, "_index": index}
        )
    return body, r.errors


def renumber(errors: dict[str, str], rows: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    """Errors of the n-th item sent (empty rows left out) back onto the form row it came from."""
    moved = {}
    for field, message in errors.items():
        m = re.match(rf"^{prefix}\.(\d+)\.(.+)$", field)
        if m and int(m[1]) < len(rows):
            field = f"{prefix}.{rows[int(m[1])]['_row']}.{m[2]}"
        moved[field] = message
    return moved


def strip_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]


def program_values(program: dict[str, Any] | None) -> dict[str, str]:
    """A stored program (or the API's defaults) as the form's values, with blank rows to add to."""
    p = program or {
        "earn_points": 1,
        "per_amount": 1000,
        "point_value": 1,
        "pending_days": 30,
        "expiry_days": 365,
        "multipliers": [],
    }
    values = {
        "earn_points": str(p["earn_points"]),
        "per_amount": money_text(p["per_amount"]),
        "point_value": money_text(p["point_value"]),
        "pending_days": str(p["pending_days"]),
        "expiry_days": str(p["expiry_days"]),
    }
    for i, m in enumerate(p["multipliers"]):
        values[f"multipliers.{i}.factor"] = str(Decimal(str(m["factor"])).normalize())
        for k in ("products", "categories", "brands"):
            values[f"multipliers.{i}.{k}"] = ", ".join(m[k])
    return values


def rows(values: dict[str, Any], prefix: str) -> range:
    """The row numbers to show: every filled one and BLANK_ROWS more."""
    used = _row_numbers({k: v for k, v in values.items() if v}, prefix)
    return range(min((used[-1] + 1 if used else 0) + BLANK_ROWS, MAX_ROWS))


# --- rewards, wheels, adjustments --------------------------------------------------------------------


def reward_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = Reader(form)
    body = {
        "name": r.text("name"),
        "points": r.whole("points"),
        "campaign_id": r.text("campaign_id"),
        "stock": r.whole("stock"),
    }
    if body["points"] is None and "points" not in r.errors:
        r.errors["points"] = "required"
    if not body["campaign_id"]:
        r.errors["campaign_id"] = "choose the campaign whose coupon the reward gives"
    return body, r.errors


def wheel_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = Reader(form)
    body: dict[str, Any] = {
        "name": r.text("name"),
        "cost_points": r.whole("cost_points") or 0,
        "free_spins_per_day": r.whole("free_spins_per_day") or 0,
        "prizes": [],
    }
    for i in _row_numbers(form, "prizes"):
        kind = r.text(f"prizes.{i}.kind")
        if not kind:
            continue
        prize: dict[str, Any] = {"kind": kind, "weight": r.whole(f"prizes.{i}.weight"), "_row": i}
        if prize["weight"] is None and f"prizes.{i}.weight" not in r.errors:
            r.errors[f"prizes.{i}.weight"] = "required: how likely, against the other prizes"
        if kind == "coupon":
            prize["campaign_id"] = r.text(f"prizes.{i}.campaign_id")
            if not prize["campaign_id"]:
                r.errors[f"prizes.{i}.campaign_id"] = "choose the campaign of the coupon"
        if kind == "points":
            prize["points"] = r.whole(f"prizes.{i}.points")
            if prize["points"] is None and f"prizes.{i}.points" not in r.errors:
                r.errors[f"prizes.{i}.points"] = "required for a points prize"
        if kind != "nothing":
            prize["stock"] = r.whole(f"prizes.{i}.stock")
        body["prizes"].append(prize)
    if not body["prizes"]:
        r.errors["prizes"] = "give at least one prize"
    return body, r.errors


def adjustment_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    r = Reader(form)
    body = {"customer_id": r.text("customer_id"), "points": r.whole("points"), "reason": r.text("reason")}
    if body["points"] is None and "points" not in r.errors:
        r.errors["points"] = "required"
    elif body["points"] == 0:
        r.errors["points"] = "must not be zero"
    if not body["reason"]:
        r.errors["reason"] = "say why: the customer sees it in the history"
    return body, r.errors


# --- words ------------------------------------------------------------------------------------------

ENTRY_WORDS = {
    "earned": "Earned on an order (pending)",
    "matured": "Became available",
    "redeemed": "Spent",
    "expired": "Expired",
    "reversed": "Taken back after a refund",
    "adjusted": "Adjusted by the shop",
    "bonus": "Bonus",
}
REFUSAL_WORDS = {
    "insufficient_points": "You do not have enough points for this yet.",
    "out_of_stock": "Sorry, none are left.",
    "not_a_member": "Join the rewards program first.",
    "no_spins_left": "You have used today's free spins. Come back tomorrow.",
    "not_found": "This is no longer offered.",
}


def entry_words(entry: dict[str, Any]) -> str:
    """One line of a customer's points history, e.g. "Spent: Free coffee"."""
    words = ENTRY_WORDS.get(entry["kind"], entry["kind"])
    source = entry["source"]["type"]
    if entry["kind"] == "redeemed" and source == "spin":
        words = "Spent on a spin"
    elif entry["kind"] == "redeemed" and source == "reward":
        words = "Exchanged for a reward"
    elif entry["kind"] == "bonus" and source == "spin":
        words = "Won on the prize wheel"
    elif entry["kind"] == "bonus" and source == "referral":
        words = "Bonus for a referral"
    return f"{words}: {entry['reason']}" if entry.get("reason") else words
