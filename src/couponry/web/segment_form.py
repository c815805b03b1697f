"""The segment rule builder: rows of (field, op, value) typed in a form, as the API's rules."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

ROWS = 6
FIELDS = {
    "order_count": "Orders",
    "total_spent": "Total spent",
    "days_since_signup": "Days since sign-up",
    "days_since_last_order": "Days since last order",
    "birthday_month": "Birthday month",
    "tags": "Tags",
    "marketing_consent": "Marketing consent",
    "attribute": "Attribute…",
}
OPS = {
    "eq": "is",
    "ne": "is not",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "contains": "contains",
    "in": "is one of (comma-separated)",
}


class RuleError(ValueError):
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def _scalar(field: str, raw: str, row: int) -> Any:
    raw = raw.strip()
    if field in ("order_count", "days_since_signup", "days_since_last_order"):
        if not re.fullmatch(r"\d{1,9}", raw):
            raise RuleError(row, "a whole number")
        return int(raw)
    if field == "total_spent":
        try:
            amount = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            raise RuleError(row, "an amount such as 100.00") from None
        return int(amount * 100)
    if field == "birthday_month":
        if raw.lower() in ("current", "this month"):
            return "current"
        if not re.fullmatch(r"\d{1,2}", raw) or not 1 <= int(raw) <= 12:
            raise RuleError(row, "a month from 1 to 12, or current")
        return int(raw)
    if field == "marketing_consent":
        if raw.lower() not in ("yes", "no", "true", "false"):
            raise RuleError(row, "yes or no")
        return raw.lower() in ("yes", "true")
    if field.startswith("attributes."):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if re.fullmatch(r"-?\d{1,15}", raw):
            return int(raw)
        try:
            return float(raw) if re.fullmatch(r"-?\d+\.\d+", raw) else raw
        except ValueError:
            return raw
    return raw


def rules_from(form: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """(match, rules) from the posted rows; blank rows are skipped. RuleError names the row."""
    match = form.get("match", "all") if form.get("match") in ("all", "any") else "all"
    rules = []
    for i in range(ROWS):
        field = (form.get(f"rule.{i}.field") or "").strip()
        op = (form.get(f"rule.{i}.op") or "").strip()
        raw = (form.get(f"rule.{i}.value") or "").strip()
        if not field or not raw:
            continue
        if field == "attribute":
            name = (form.get(f"rule.{i}.attribute") or "").strip()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
                raise RuleError(i, "name the attribute (letters, digits, _)")
            field = f"attributes.{name}"
        if op not in OPS:
            raise RuleError(i, "choose a comparison")
        if op == "in":
            value: Any = [_scalar(field, part, i) for part in raw.split(",") if part.strip()]
        else:
            value = _scalar(field, raw, i)
        rules.append({"field": field, "op": op, "value": value})
    return match, rules
