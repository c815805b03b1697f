"""The validation body of API.md, built from a PricingResult. Stored with redemptions and idempotency
keys, so it is plain JSON-ready data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from couponry.domain.outcomes import CodeOutcome, PricingResult


def code_body(outcome: CodeOutcome, shown_as: str) -> dict[str, Any]:
    if outcome.valid:
        # who pays for the discount: the platform (which reimburses the line's store) or the issuing store
        issuer = outcome.issuer_key or "platform"
        bearer = "platform" if issuer == "platform" else issuer.removeprefix("store:")
        return {
            "code": shown_as,
            "valid": True,
            "campaign_id": outcome.campaign_id,
            "discount": outcome.discount,
            "shipping_discount": outcome.shipping_discount,
            "lines": [
                {"id": ld.line_id, "discount": ld.discount, "store_id": ld.store_id, "borne_by": bearer}
                for ld in outcome.lines
            ],
        }
    body: dict[str, Any] = {
        "code": shown_as,
        "valid": False,
        "reason": str(outcome.reason),
        "message": outcome.message,
    }
    if outcome.campaign_id:
        body["campaign_id"] = outcome.campaign_id
    return body


def validation_body(result: PricingResult, shown_as: Sequence[str] | None = None) -> dict[str, Any]:
    """`shown_as[i]` is how code i is shown (as the client typed it); defaults to the stored code."""
    names = list(shown_as) if shown_as is not None else [c.code for c in result.codes]
    return {
        "valid": result.valid,
        "currency": result.currency,
        "subtotal": result.subtotal,
        "shipping": result.shipping,
        "discount": result.discount,
        "shipping_discount": result.shipping_discount,
        "total": result.total,
        "codes": [code_body(c, n) for c, n in zip(result.codes, names, strict=True)],
        "lines": [{"id": line.id, "amount": line.amount, "discount": line.discount} for line in result.lines],
    }
