"""Builders for the checkout service tests: campaigns, codes, carts and redemptions through the
services (services/campaigns, services/checkout) on the real database, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import load_snapshots
from couponry.domain.cart import Cart, CartLine
from couponry.domain.errors import RedemptionRefused
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.checkout import orders, redemptions, reservations
from couponry.services.checkout.orders import RedemptionRequest

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def cart(*lines: tuple[str, int, int]) -> Cart:
    """A cart of (line id, unit price, quantity) lines; by default one line of 20.00."""
    return Cart("USD", tuple(CartLine(i, price, qty) for i, price, qty in lines or [("1", 2000, 1)]))


CART = cart()


def campaign(
    db: Database,
    discount: dict[str, Any] | None = None,
    stacking: str = "order",
    extra: dict[str, Any] | None = None,
    **limits: Any,
) -> str:
    """An active platform campaign (5.00 off by default) with these limits, and `extra` fields of the
    campaign's spec (conditions, variants ...) over the defaults."""
    spec = {
        "name": "guarded",
        "currency": "USD",
        "issuer": {"type": "platform"},
        "discount": discount or {"type": "amount", "amount": 500},
        "scope": {},
        "conditions": {},
        "validity": {},
        "limits": limits,
        "stacking": stacking,
        "code_config": {"length": 12},
        "status": "active",
        **(extra or {}),
    }
    return campaigns.create_campaign(db, SYSTEM, spec, T0)["id"]


def issue(db: Database, campaign_id: str, *codes: str) -> None:
    coupons.issue_codes(db, SYSTEM, campaign_id, codes=list(codes), count=None, customer_id=None, now=T0)


def request(
    order: str,
    codes: Sequence[str] = ("CODE",),
    customer: str | None = None,
    basket: Cart = CART,
    reservation_id: str | None = None,
) -> RedemptionRequest:
    """A redemption request whose payload (what idempotency hashes) is the body a client would send."""
    payload = {"order_id": order, "cart": basket.as_json(), "codes": list(codes), "customer_id": customer}
    return RedemptionRequest(order, basket, tuple(codes), customer, payload, reservation_id)


def redeem(db: Database, order: str, **kwargs: Any) -> dict[str, Any]:
    key = kwargs.pop("key", None)
    status, body = redemptions.redeem(db, SYSTEM, request(order, **kwargs), T0, key=key)
    assert status == 201
    return body


def hold(db: Database, order: str, **kwargs: Any) -> dict[str, Any]:
    status, body = reservations.reserve(db, SYSTEM, request(order, **kwargs), 600, T0)
    assert status == 201
    return body


def refusal_of(db: Database, order: str, **kwargs: Any) -> str:
    """The reason the (only) code of a redemption that must be refused was refused for."""
    with pytest.raises(RedemptionRefused) as refused:
        redemptions.redeem(db, SYSTEM, request(order, **kwargs), T0)
    (reason,) = [c["reason"] for c in refused.value.extra["codes"] if not c["valid"]]
    return reason


def stats(db: Database, campaign_id: str) -> tuple[int, int, int, int]:
    """(redeemed_count, budget_used, held_count, budget_held) as the campaign reports them."""
    s = campaigns.get_campaign(db, SYSTEM, campaign_id)["stats"]
    return s["redeemed_count"], s["budget_used"], s["held_count"], s["budget_held"]


def redeemed_count(db: Database, code: str) -> int:
    return coupons.get_coupon(db, SYSTEM, code, T0)["redeemed_count"]


def orders_redeemed(db: Database, order: str) -> int:
    return len(redemptions.find_redemptions(db, SYSTEM, order))


def read_as_now(db: Database, codes: Sequence[str], customer: str | None) -> Any:
    """The coupons and customer exactly as a request starting now would read them."""
    with db.read() as conn:
        return load_snapshots(conn, codes, customer)


def serve_stale_reads(monkeypatch: pytest.MonkeyPatch, snapshot: Any) -> None:
    """From now on the checkout prices against `snapshot`, read earlier: what a request sees whose
    read happened before a concurrent redemption committed. Only the database's own guards (the
    conditional UPDATEs) can then stop it."""
    monkeypatch.setattr(orders, "load_snapshots", lambda conn, codes, customer_id, **scope: snapshot)
