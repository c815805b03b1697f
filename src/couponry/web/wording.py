"""Campaign terms in words, for people: "10.00 off orders of 50.00 or more". Shared by the dashboard
and the public pages (filters `discount_words` and `terms_words` in templates)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _money(minor: int, currency: str) -> str:
    whole, cents = divmod(int(minor), 100)
    return f"{whole:,}.{cents:02d} {currency}".strip()


def _percent(value: Any) -> str:
    number = Decimal(str(value)).normalize()
    return f"{number:f}%"


def discount_words(campaign: dict[str, Any]) -> str:
    d, cur = campaign["discount"], campaign.get("currency", "")
    kind = d["type"]
    if kind == "amount":
        return f"{_money(d['amount'], cur)} off"
    if kind == "amount_per_item":
        most = f" (at most {d['max_items']} items)" if d.get("max_items") else ""
        return f"{_money(d['amount'], cur)} off each item{most}"
    if kind == "percent":
        cap = f", at most {_money(d['max_amount'], cur)}" if d.get("max_amount") else ""
        most = f" on at most {d['max_items']} items" if d.get("max_items") else ""
        return f"{_percent(d['percent'])} off{most}{cap}"
    if kind == "free_shipping":
        cap = f" up to {_money(d['max_amount'], cur)}" if d.get("max_amount") else ""
        return f"Free shipping{cap}"
    if kind == "tiered":
        steps = ", ".join(
            f"spend {_money(t['min_spend'], cur)} get {_money(t['amount'], cur)} off" for t in d["tiers"]
        )
        return steps[:1].upper() + steps[1:]
    return kind


def terms_words(campaign: dict[str, Any]) -> str:
    """The discount with its main conditions: "10.00 USD off orders of 50.00 USD or more"."""
    words = discount_words(campaign)
    cond, cur = campaign.get("conditions") or {}, campaign.get("currency", "")
    if cond.get("min_spend"):
        words += f" on orders of {_money(cond['min_spend'], cur)} or more"
    if cond.get("min_quantity"):
        words += f", with at least {cond['min_quantity']} items"
    if cond.get("first_order_only"):
        words += ", first order only"
    channels = cond.get("channels") or []
    if channels == ["online"]:
        words += ", online only"
    elif channels == ["pos"]:
        words += ", in shops only"
    return words
