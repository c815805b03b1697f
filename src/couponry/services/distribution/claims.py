"""The coupon center: what a customer may claim now, and claiming it (one transaction per claim).

A claim is a money movement: it accepts an Idempotency-Key (the same key and body answer what the first
request answered, refusals included), and the stock and per-customer limits are taken by guarded writes
(adapters.db.claims), never by a check in Python. The coupon it issues is a personal coupon of the
campaign, so it is in the customer's wallet while valid, and its relative validity starts at the claim.
A `coupon.claimed` event is queued for the webhooks in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from couponry.adapters.db import claims as store
from couponry.adapters.db.campaign_rules import rules_from_row
from couponry.adapters.db.engine import Database
from couponry.adapters.db.segments import memberships
from couponry.adapters.db.snapshots import load_customer
from couponry.adapters.db.variants import assign_variants
from couponry.domain.claims import MESSAGES, ClaimRefusal, eligible, refusal
from couponry.domain.codes import CodeConfig, generate, normalize_generated
from couponry.domain.coupon import CustomerProfile
from couponry.domain.errors import ClaimRefused, InvalidInput, NotFound
from couponry.domain.rules import CampaignRules
from couponry.services.access.actors import Actor, Permission
from couponry.services.checkout import idempotency
from couponry.services.customers.profiles import check_id

ENDPOINT = "claims"


def _refused(reason: ClaimRefusal) -> ClaimRefused:
    return ClaimRefused(MESSAGES[reason], code=str(reason))


def _customer(conn: Connection, customer_id: str | None, rules: list[CampaignRules], now: datetime) -> Any:
    """The profile with the segments these campaigns ask about (one query each, none when none asks)."""
    customer = load_customer(conn, customer_id)
    if customer is None:
        return None
    asked = {r.conditions.segment_id for r in rules if r.conditions.segment_id is not None}
    if not asked:
        return customer
    return CustomerProfile(
        customer.id, customer.tags, customer.order_count, memberships(conn, customer.id, asked, now)
    )


def _offer(row: Any) -> store.StoredOffer:
    stored = store.offer_from_row(row, "claim_")
    assert stored is not None  # listed_offers joins, never outer-joins
    return stored


def _asks_customer(rules: CampaignRules) -> bool:
    c = rules.conditions
    return bool(c.first_order_only or c.customer_tags or c.segment_id)


def coupon_center(
    db: Database,
    actor: Actor,
    *,
    customer_id: str | None,
    product_id: str | None,
    category: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The campaigns listed for this page (and customer): {"items": [...]} soonest end first."""
    actor.require(Permission.CLAIM)
    with db.read() as conn:
        rows = [
            r
            for r in store.listed_offers(conn, now, actor.store_scope)
            if _offer(r).offer.listed_for(product_id, category)
        ]
        rules = {r.id: rules_from_row(r) for r in rows}
        rows = [r for r in rows if eligible(rules[r.id], None, now)]  # campaigns whose coupons are over
        customer = _customer(conn, customer_id, [rules[r.id] for r in rows], now)
        mine = store.claimed_by(conn, customer_id, [r.id for r in rows]) if customer_id else {}
    items = []
    for r in rows:
        stored = _offer(r)
        why = refusal(
            stored.offer,
            rules[r.id],
            customer,
            now,
            remaining=stored.remaining,
            claimed_by_customer=mine.get(r.id, 0),
        )
        items.append(
            {
                "campaign_id": r.id,
                "name": r.name,
                "discount": r.definition["discount"],
                "currency": r.currency,
                "remaining": stored.remaining,
                "starts_at": stored.offer.starts_at,
                "ends_at": stored.offer.ends_at,
                "per_customer": stored.offer.per_customer,
                "claimed_by_customer": mine.get(r.id, 0) if customer_id else None,
                "claimable": why is None,
                "reason": None if why is None else str(why),
            }
        )
    return {"items": items}


def claim(
    db: Database, actor: Actor, campaign_id: str, customer_id: Any, now: datetime, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    """201 and the claimed coupon, or ClaimRefused; a retried Idempotency-Key gets the first answer."""
    actor.require(Permission.CLAIM)
    try:
        customer_id = check_id(customer_id)
    except InvalidInput:
        raise InvalidInput("customer_id", "must be 1 to 100 characters, no spaces at either end") from None
    req_hash = idempotency.request_hash(ENDPOINT, {"campaign_id": campaign_id, "customer_id": customer_id})
    try:
        with db.write() as conn:
            if key:
                idempotency.find(conn, actor.key_id, key, req_hash)

            def remember(body: dict[str, Any]) -> None:
                if key:
                    idempotency.record(conn, actor.key_id, key, ENDPOINT, req_hash, 201, body, now)

            body = _claim(conn, actor, campaign_id, customer_id, now, remember)
    except idempotency.Replay as replay:
        if replay.status == 409:
            raise _refused(ClaimRefusal(replay.response["code"])) from None
        return replay.status, replay.response
    except ClaimRefused as refused:
        if key:
            won = _remember_refusal(db, actor, key, req_hash, refused, now)
            if won is not None:  # a concurrent request with this key claimed first
                return won.status, won.response
        raise
    return 201, body


def _claim(
    conn: Connection,
    actor: Actor,
    campaign_id: str,
    customer_id: str,
    now: datetime,
    remember: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    row = store.campaign_with_offer(conn, campaign_id)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    actor.require_store_access(row.store_id)
    rules = rules_from_row(row)
    stored = store.offer_from_row(row, "claim_")
    # what can be read before writing: the campaign, the customer and the window (stock and the
    # customer's own limit are left to the guarded writes below, which alone are exact)
    why = refusal(
        stored.offer if stored else None,
        rules,
        _customer(conn, customer_id, [rules], now) if _asks_customer(rules) else None,
        now,
        remaining=None,
        claimed_by_customer=0,
    )
    if why is not None:
        raise _refused(why)
    config = CodeConfig.from_dict(row.definition.get("code_config"))

    def draw() -> tuple[str, str]:
        display = generate(config, 1)[0]
        return normalize_generated(display), display

    event = {"campaign_id": campaign_id, "customer_id": customer_id, "valid_until": _valid_until(rules, now)}
    try:
        display = store.write_claim(
            conn, campaign_id=campaign_id, customer_id=customer_id, draw=draw, event=event, now=now
        )
        body = {"code": display, **event}
        assign_variants(conn, campaign_id, [customer_id], now, row.definition)  # A/B: sticky arm
        remember(body)
        store.take_stock_and_commit(conn, campaign_id)  # last: the hot row is locked until the commit
    except store.ClaimLost as lost:
        raise _refused(lost.reason) from None
    return body


def _valid_until(rules: CampaignRules, claimed_at: datetime) -> str | None:
    """The coupon's end: the campaign's, or `days_after_issue` from the claim when that comes first."""
    ends = [rules.validity.ends_at] if rules.validity.ends_at else []
    if rules.validity.days_after_issue is not None:
        ends.append(claimed_at + timedelta(days=rules.validity.days_after_issue))
    return min(ends).isoformat() if ends else None


def _remember_refusal(
    db: Database, actor: Actor, key: str, req_hash: str, refused: ClaimRefused, now: datetime
) -> idempotency.Replay | None:
    """A refusal is an answer too: the same key and body get it again rather than a second try.
    Returns the stored success when a concurrent request with the same key got there first."""
    try:
        with db.write() as conn:
            idempotency.record(conn, actor.key_id, key, ENDPOINT, req_hash, 409, {"code": refused.code}, now)
    except idempotency.Replay as replay:
        if replay.status != 409:
            return replay
    return None
