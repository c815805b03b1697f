"""Validating a cart against codes (no side effects) and choosing a customer's best coupons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.db.snapshots import Loaded, SnapshotRead, load_snapshots
from couponry.adapters.db.tables import coupons
from couponry.domain.best import best_combination
from couponry.domain.cart import Cart
from couponry.domain.coupon import CouponSnapshot, UnknownCoupon
from couponry.domain.outcomes import PricingResult
from couponry.domain.pricing import price
from couponry.services.access.actors import Actor, Permission
from couponry.services.checkout.bodies import validation_body


def read_coupons(
    db: Database, actor: Actor, codes: Sequence[str], customer_id: str | None, *, on_loop: bool = False
) -> Loaded:
    """The coupons of `codes` and the customer, as a validation prices them. A store key's look-ups
    see only its own store's and platform campaigns: another store's code is read as an unknown one.
    `on_loop`: called on the event loop's thread (SQLite), which keeps a connection of its own."""
    actor.require(Permission.VALIDATE)
    with db.statement_reads(kept=on_loop) as conn:
        return load_snapshots(conn, codes, customer_id, store_scope=actor.store_scope)


async def read_coupons_on_loop(
    reads: LoopReads, actor: Actor, codes: Sequence[str], customer_id: str | None
) -> Loaded | None:
    """`read_coupons` on PostgreSQL's async driver, without leaving the event loop, when its one query
    answers it; None when it would need more (rules not cached yet, segments, A/B arms, a customer
    without a known code), and `read_coupons` then runs."""
    actor.require(Permission.VALIDATE)
    plan = SnapshotRead(codes, customer_id, actor.store_scope, postgres=True)
    rows = await reads.fetch(*plan.query()) if plan.wanted else []
    return plan.finish_without_reading(rows)


def priced(
    cart: Cart, loaded: Loaded, codes: Sequence[str], now: datetime
) -> tuple[dict[str, Any], PricingResult]:
    """The validation body of API.md for the cart priced with what was read (no side effects)."""
    snapshots, customer = loaded
    result = price(cart, snapshots, customer, now)
    return validation_body(result, codes), result


def validate(
    db: Database, actor: Actor, cart: Cart, codes: Sequence[str], customer_id: str | None, now: datetime
) -> tuple[dict[str, Any], PricingResult]:
    """Price the cart with the codes. A store key's look-ups see only its own store's and platform
    campaigns: another store's code is answered exactly as an unknown one."""
    return priced(cart, read_coupons(db, actor, codes, customer_id), codes, now)


# The newest personal coupons weighed by best-coupons: a customer may hold millions (bulk-issued), and
# weighing them all made one request read them all and overflow SQLite's limit of bound parameters.
BEST_OF_NEWEST = 200


@dataclass(frozen=True)
class BestCoupons:
    body: dict[str, Any]
    result: PricingResult
    unknown_codes: int  # given codes that matched no coupon this key may see (failed look-ups)


def best_coupons(
    db: Database, actor: Actor, cart: Cart, customer_id: str | None, codes: Sequence[str], now: datetime
) -> BestCoupons:
    """The combination of the wallet's coupons (and any given codes) that saves the most.

    The customer's own coupons are only read for a key that may read wallets (storefront, admin): a
    POS or store key combines the codes it was given, so it cannot learn a customer's personal codes.
    """
    actor.require(Permission.VALIDATE)
    with db.read() as conn:
        owned: list[str] = []
        if customer_id is not None and actor.may(Permission.WALLET):
            owned = list(
                conn.execute(
                    select(coupons.c.code)
                    .where(coupons.c.customer_id == customer_id)
                    .order_by(coupons.c.issued_at.desc())
                    .limit(BEST_OF_NEWEST)
                ).scalars()
            )
        given = list(dict.fromkeys(codes))
        snapshots, customer = load_snapshots(
            conn, list(dict.fromkeys([*owned, *given])), customer_id, store_scope=actor.store_scope
        )
    unknown = sum(isinstance(s, UnknownCoupon) for s in snapshots)
    wallet = [s for s in snapshots if isinstance(s, CouponSnapshot)]
    result = best_combination(cart, wallet, customer, now)
    return BestCoupons(validation_body(result), result, unknown)
