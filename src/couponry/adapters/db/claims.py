"""Claim offers and claims in the database: the two guarded writes that make a claim exact.

A claim takes, in this order and in one transaction (so every claim locks rows in the same order and
two claims cannot deadlock):
1. the customer's next claim number `n` (`take_customer_slot`): an INSERT of (campaign, customer, n)
   whose SELECT yields a row only while n <= the offer's per_customer; the primary key makes each n
   happen once, so two concurrent claims by one customer cannot both take the last slot;
2. one unit of stock (`take_stock_and_commit`), the last write of the transaction, so the hot row is
   locked as briefly as possible: on SQLite (writers are serialized) the guarded
   `UPDATE ... SET claimed = claimed + 1 WHERE claimed < stock`; on PostgreSQL the increment is sent
   together with the COMMIT in one message, and the table's CHECK (claimed <= stock) refuses the unit
   that is not there (a row-matched-nothing answer could not stop a COMMIT already sent). The row lock
   is then held only while the server runs the two, never across a round trip to Python: measured
   with 32 clients on 2 cores, that lock wait is what a hot campaign's claim rate is made of.
Neither is ever decided by a value read earlier in Python.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.outbox import enqueue_event
from couponry.adapters.db.subscriptions import subscribed_types
from couponry.adapters.db.tables import UTC, campaigns, claim_offers, claims, coupons
from couponry.domain.claims import ClaimOffer, ClaimRefusal
from couponry.domain.errors import InvalidCampaign


@dataclass(frozen=True, slots=True)
class StoredOffer:
    offer: ClaimOffer
    claimed: int

    @property
    def remaining(self) -> int | None:
        return None if self.offer.stock is None else max(self.offer.stock - self.claimed, 0)

    def as_data(self) -> dict[str, Any]:
        return {**self.offer.as_data(), "claimed": self.claimed}


def save_offer(conn: Connection, campaign_id: str, offer: ClaimOffer, now: datetime) -> None:
    """Create or replace a campaign's offer; what was claimed so far stays counted."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {
        "stock": offer.stock,
        "per_customer": offer.per_customer,
        "starts_at": offer.starts_at,
        "ends_at": offer.ends_at,
        "products": list(offer.products),
        "categories": list(offer.categories),
        "updated_at": now,
    }
    stmt = module.insert(claim_offers).values(campaign_id=campaign_id, claimed=0, **values)
    try:
        with conn.begin_nested():
            conn.execute(stmt.on_conflict_do_update(index_elements=["campaign_id"], set_=values))
    except IntegrityError:  # the CHECK: fewer coupons than were claimed already
        raise InvalidCampaign("claim.stock", "is below what was claimed already") from None


def offer_from_row(row: Any, prefix: str = "") -> StoredOffer | None:
    """The offer of a claim_offers row, or of a campaign row joined with OFFER_COLUMNS (prefix "claim_");
    None when the join found no offer."""
    m = row._mapping
    if m[f"{prefix}per_customer"] is None:
        return None
    offer = ClaimOffer(
        stock=m[f"{prefix}stock"],
        per_customer=m[f"{prefix}per_customer"],
        starts_at=m[f"{prefix}starts_at"],
        ends_at=m[f"{prefix}ends_at"],
        products=tuple(m[f"{prefix}products"] or ()),
        categories=tuple(m[f"{prefix}categories"] or ()),
    )
    return StoredOffer(offer, m[f"{prefix}claimed"])


def offers_of(conn: Connection, campaign_ids: Collection[str]) -> dict[str, StoredOffer]:
    if not campaign_ids:
        return {}
    rows = conn.execute(select(claim_offers).where(claim_offers.c.campaign_id.in_(list(campaign_ids))))
    return {row.campaign_id: offer for row in rows if (offer := offer_from_row(row)) is not None}


OFFER_COLUMNS = tuple(
    claim_offers.c[name].label(f"claim_{name}")
    for name in ("stock", "claimed", "per_customer", "starts_at", "ends_at", "products", "categories")
)


def campaign_with_offer(conn: Connection, campaign_id: str) -> Any:
    """The campaign row with its offer's columns (None when it has no offer); None when no campaign."""
    return conn.execute(
        select(campaigns, *OFFER_COLUMNS)
        .outerjoin(claim_offers, claim_offers.c.campaign_id == campaigns.c.id)
        .where(campaigns.c.id == campaign_id)
    ).first()


def listed_offers(conn: Connection, now: datetime, store_id: str | None) -> list[Any]:
    """Active campaigns whose claim window has not ended, soonest end first (a sold-out one stays until
    its window ends). Offers are few beside codes; the product and category filter is applied to these."""
    query = (
        select(campaigns, *OFFER_COLUMNS)
        .join(claim_offers, claim_offers.c.campaign_id == campaigns.c.id)
        .where(
            campaigns.c.status == "active",
            (claim_offers.c.ends_at.is_(None)) | (claim_offers.c.ends_at > now),
        )
        .order_by(claim_offers.c.ends_at.is_(None), claim_offers.c.ends_at, campaigns.c.id)
    )
    if store_id is not None:
        query = query.where(campaigns.c.store_id == store_id)
    return list(conn.execute(query))


def claimed_by(conn: Connection, customer_id: str, campaign_ids: Collection[str]) -> dict[str, int]:
    """How many coupons of each campaign the customer has claimed."""
    if not campaign_ids:
        return {}
    rows = conn.execute(
        select(claims.c.campaign_id, func.count())
        .where(claims.c.campaign_id.in_(list(campaign_ids)), claims.c.customer_id == customer_id)
        .group_by(claims.c.campaign_id)
    )
    return dict(rows.all())


_NEXT_SLOT = text(
    "INSERT INTO claims (campaign_id, customer_id, n, code, claimed_at) "
    "SELECT :campaign, :customer, nxt.n, :code, :now FROM "
    "(SELECT coalesce(max(n), 0) + 1 AS n FROM claims "
    "WHERE campaign_id = :campaign AND customer_id = :customer) AS nxt "
    "WHERE nxt.n <= (SELECT per_customer FROM claim_offers WHERE campaign_id = :campaign) "
    "ON CONFLICT DO NOTHING RETURNING n"
).bindparams(bindparam("now", type_=UTC))


def take_customer_slot(conn: Connection, campaign_id: str, customer_id: str, code: str, now: datetime) -> int:
    """The customer's next claim number, or ClaimLimitReached. A concurrent claim by the same customer
    that took the same number first makes the INSERT wait for it and then insert nothing: the number
    is read again (each statement sees what committed before it) until it fits or the limit is reached."""
    params = {"campaign": campaign_id, "customer": customer_id, "code": code, "now": now}
    while True:
        n = conn.execute(_NEXT_SLOT, params).scalar()
        if n is not None:
            return n
        taken = conn.execute(
            select(func.coalesce(func.max(claims.c.n), 0)).where(
                claims.c.campaign_id == campaign_id, claims.c.customer_id == customer_id
            )
        ).scalar_one()
        limit = conn.execute(
            select(claim_offers.c.per_customer).where(claim_offers.c.campaign_id == campaign_id)
        ).scalar()
        if limit is None or taken >= limit:
            raise ClaimLost(ClaimRefusal.NOT_CLAIMABLE if limit is None else ClaimRefusal.CLAIM_LIMIT_REACHED)


_CLAIM_ROWS = text(
    """
WITH slot AS (
    INSERT INTO claims (campaign_id, customer_id, n, code, claimed_at)
    SELECT :campaign, :customer, nxt.n, :code, :now
    FROM (SELECT coalesce(max(n), 0) + 1 AS n FROM claims
          WHERE campaign_id = :campaign AND customer_id = :customer) AS nxt
    WHERE nxt.n <= (SELECT per_customer FROM claim_offers WHERE campaign_id = :campaign)
    ON CONFLICT DO NOTHING
    RETURNING n
), coupon AS (
    INSERT INTO coupons (code, display_code, campaign_id, customer_id, issued_at, redeemed_count, held_count)
    SELECT :code, :display, :campaign, :customer, :now, 0, 0 FROM slot
    ON CONFLICT DO NOTHING
    RETURNING code
), event AS (
    INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, available_at,
                        created_at)
    SELECT :event_id, 'event', 'coupon.claimed', NULL, CAST(:payload AS json),
           'claimed:' || CAST(:campaign AS text) || ':' || CAST(:customer AS text) || ':' || slot.n,
           'pending', 0, :now, :now
    FROM slot, coupon
    WHERE :emit
    ON CONFLICT DO NOTHING
)
SELECT (SELECT n FROM slot) AS n, (SELECT count(*) FROM coupon) AS stored
"""
).bindparams(bindparam("now", type_=UTC))


def write_claim(
    conn: Connection,
    *,
    campaign_id: str,
    customer_id: str,
    draw: Callable[[], tuple[str, str]],
    event: dict[str, Any],
    now: datetime,
) -> str:
    """The customer's next claim, its personal coupon (a code from `draw()`: (stored, displayed)) and its
    `coupon.claimed` event (`event` plus the code); returns the displayed code, or ClaimLost when the
    customer's limit is reached. On PostgreSQL the three rows are one statement; whatever it could not
    settle (a concurrent claim by the same customer, a drawn code taken elsewhere) is redone step by step."""
    code, display = draw()
    n = None
    if conn.dialect.name == "postgresql":
        payload = json.dumps({**event, "code": display}, default=str)
        params = {"campaign": campaign_id, "customer": customer_id, "code": code, "display": display,
                  "now": now, "event_id": uuid.uuid4().hex, "payload": payload,
                  "emit": "coupon.claimed" in subscribed_types(conn)}  # fmt: skip
        row = conn.execute(_CLAIM_ROWS, params).one()
        if row.n is not None and row.stored:
            return display
        n = row.n
    if n is None:
        n = take_customer_slot(conn, campaign_id, customer_id, code, now)
    while not insert_ignoring_conflicts(
        conn,
        coupons,
        {"code": code, "display_code": display, "campaign_id": campaign_id, "customer_id": customer_id,
         "issued_at": now},
    ):  # fmt: skip
        code, display = draw()  # taken elsewhere (rare: the code space is checked)
        set_claim_code(conn, campaign_id, customer_id, n, code)
    enqueue_event(
        conn,
        "coupon.claimed",
        {**event, "code": display},
        now,
        dedupe_key=f"claimed:{campaign_id}:{customer_id}:{n}",
    )
    return display


def set_claim_code(conn: Connection, campaign_id: str, customer_id: str, n: int, code: str) -> None:
    conn.execute(
        claims.update()
        .where(claims.c.campaign_id == campaign_id, claims.c.customer_id == customer_id, claims.c.n == n)
        .values(code=code)
    )


_TAKE_STOCK = text(
    "UPDATE claim_offers SET claimed = claimed + 1 WHERE campaign_id = :campaign "
    "AND (stock IS NULL OR claimed < stock) RETURNING claimed"
)


def take_stock_and_commit(conn: Connection, campaign_id: str) -> None:
    """One unit of the offer's stock, then the transaction commits (on PostgreSQL, here; elsewhere
    when the caller's block ends: nothing may be written after this). ClaimLost when none is left."""
    if conn.dialect.name != "postgresql":
        if conn.execute(_TAKE_STOCK, {"campaign": campaign_id}).first() is None:
            raise ClaimLost(ClaimRefusal.OUT_OF_STOCK)
        return
    import psycopg
    from psycopg import sql as pgsql

    # one simple-protocol message, so no parameters: the id is quoted by psycopg
    statement = pgsql.SQL("UPDATE claim_offers SET claimed = claimed + 1 WHERE campaign_id = {}; COMMIT")
    driver = conn.connection.driver_connection
    try:
        driver.execute(statement.format(pgsql.Literal(campaign_id)))  # type: ignore[union-attr]
    except psycopg.errors.CheckViolation:  # the transaction is aborted; the caller's block rolls it back
        raise ClaimLost(ClaimRefusal.OUT_OF_STOCK) from None


class ClaimLost(Exception):
    """A guarded write matched nothing: the database refused the claim for `reason`."""

    def __init__(self, reason: ClaimRefusal) -> None:
        super().__init__(str(reason))
        self.reason = reason
