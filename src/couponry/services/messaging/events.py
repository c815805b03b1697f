"""The webhook events Couponry emits, each written in the transaction of what it reports.

Each call costs nothing while no webhook subscribes to its type (adapters/db/subscriptions), and one
INSERT into the outbox per event when one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from couponry.adapters.db.outbox import enqueue_event, enqueue_events
from couponry.adapters.db.subscriptions import subscribed_types


def coupons_issued(
    conn: Connection, campaign_id: str, customer_id: str, codes: Iterable[str], now: datetime
) -> None:
    """`coupon.issued`, one per code issued to a customer (written in one statement)."""
    if "coupon.issued" not in subscribed_types(conn):
        return
    issued_at = now.isoformat()
    datas = [
        {"code": code, "campaign_id": campaign_id, "customer_id": customer_id, "issued_at": issued_at}
        for code in codes
    ]
    enqueue_events(conn, "coupon.issued", datas, now)


def coupons_redeemed(
    conn: Connection,
    redemption_id: str,
    order_id: str,
    customer_id: str | None,
    currency: str,
    codes: Iterable[Any],
    now: datetime,
) -> None:
    """`coupon.redeemed`, one per code of a redemption (`codes`: the priced outcomes of its codes)."""
    if "coupon.redeemed" not in subscribed_types(conn):
        return
    for o in codes:
        data = {
            "code": o.code,
            "campaign_id": o.campaign_id,
            "redemption_id": redemption_id,
            "order_id": order_id,
            "customer_id": customer_id,
            "discount": o.discount + o.shipping_discount,
            "currency": currency,
        }
        enqueue_event(
            conn, "coupon.redeemed", data, now, dedupe_key=f"coupon.redeemed:{redemption_id}:{o.code}"
        )


def redemption_rolled_back(
    conn: Connection,
    redemption_id: str,
    customer_id: str | None,
    codes: Iterable[Any],
    reason: str,
    now: datetime,
) -> None:
    """`redemption.rolled_back`, once per redemption rolled back whole (`codes`: its code rows)."""
    if "redemption.rolled_back" not in subscribed_types(conn):
        return
    data = {
        "redemption_id": redemption_id,
        "customer_id": customer_id,
        "codes": [{"code": c.code, "campaign_id": c.campaign_id} for c in codes],
        "reason": reason,
        "rolled_back_at": now.isoformat(),
    }
    enqueue_event(
        conn, "redemption.rolled_back", data, now, dedupe_key=f"redemption.rolled_back:{redemption_id}"
    )


def coupon_claimed(conn: Connection, code: str, campaign_id: str, customer_id: str, now: datetime) -> None:
    """`coupon.claimed`, when a customer claims a coupon (coupon center)."""
    data = {
        "code": code,
        "campaign_id": campaign_id,
        "customer_id": customer_id,
        "claimed_at": now.isoformat(),
    }
    enqueue_event(conn, "coupon.claimed", data, now)


def points_changed(
    conn: Connection, customer_id: str, points: int, kind: str, balance: int, now: datetime, entry_id: str
) -> None:
    """`points.changed`, once per ledger entry (`kind`: earned, matured, redeemed, expired, reversed,
    adjusted, bonus; `balance`: the available points after it)."""
    data = {
        "customer_id": customer_id,
        "points": points,
        "kind": kind,
        "balance": balance,
        "entry_id": entry_id,
    }
    enqueue_event(conn, "points.changed", data, now, dedupe_key=f"points.changed:{entry_id}")
