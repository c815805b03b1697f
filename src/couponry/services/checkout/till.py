"""Coupons at a physical till: the public coupon page (what it shows, slide to redeem) and the POS page.

Both redeem through the one redemption path (limits, idempotency, webhooks) with the till's cart
(domain.till) on the POS channel:

- Slide to redeem, on `/c/{code}`: the order is `coupon-page:{code}`, so the page redeems a coupon
  at most once (a second slide is `already_redeemed` by the database's unique (code, order) index);
  each slide carries its own attempt key, so a retried request answers as the first did. Offered for
  a personal coupon opened with its signed link and for an open coupon of a single use: a coupon
  shared by many (WELCOME10) is for checkouts, not for one customer to use up.
- The POS page: staff check a code against an amount, then redeem it for the order `pos:{attempt}`
  with the attempt as Idempotency-Key, so a double tap redeems once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.campaign_rules import rules_from_row
from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import load_snapshots, safe_normalize
from couponry.adapters.db.tables import campaigns, coupons, redemptions
from couponry.domain.coupon import CouponSnapshot
from couponry.domain.errors import Conflict, RedemptionRefused
from couponry.domain.outcomes import CodeOutcome
from couponry.domain.pricing import price
from couponry.domain.reasons import Reason
from couponry.domain.rules import CampaignRules
from couponry.domain.till import till_cart
from couponry.domain.wording import describe_discount, describe_terms, parse_amount, reason_words
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.campaigns.coupons import coupon_status
from couponry.services.checkout import redemptions as redemption_service
from couponry.services.checkout.orders import RedemptionRequest
from couponry.services.distribution.links import CouponLinks

# Who redeems from a coupon page: a POS actor of no store (store coupons stay usable: the campaign's
# own store is on the till cart). Its key id namespaces the pages' Idempotency-Keys.
COUPON_PAGE = Actor(key_id="coupon-page", role=Role.POS)
PAGE_ORDER = "coupon-page:"
POS_ORDER = "pos:"
# What a page shows for each refusal that is a state of the coupon rather than of a purchase
_STATE_OF = {
    Reason.EXPIRED: "expired",
    Reason.NOT_STARTED: "not_started",
    Reason.COUPON_USED_UP: "used",
}


@dataclass(frozen=True)
class CouponPage:
    """What the public page of one coupon shows."""

    code: str  # as issued (display form)
    stored: str  # normalized: the key of the coupon
    campaign_name: str
    image_url: str | None
    currency: str
    discount: str
    terms: str
    starts_at: datetime | None
    ends_at: datetime | None
    personal: bool
    state: str  # valid | used | expired | not_started | unavailable
    reason: str | None  # why not, in words (state unavailable)
    can_slide: bool
    redeemed_at: datetime | None  # when the page redeemed it


def _load(conn: Any, stored: str) -> Any:
    return conn.execute(
        select(
            coupons,
            campaigns.c.id,
            campaigns.c.name,
            campaigns.c.currency,
            campaigns.c.status,
            campaigns.c.status.label("campaign_status"),
            campaigns.c.stacking,
            campaigns.c.definition,
            campaigns.c.max_redemptions,
            campaigns.c.budget,
            campaigns.c.per_coupon,
            campaigns.c.per_customer,
            campaigns.c.updated_at,
        )
        .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
        .where(coupons.c.code == stored)
    ).first()


def _slid_at(conn: Any, stored: str) -> datetime | None:
    return conn.execute(
        select(redemptions.c.created_at).where(
            redemptions.c.order_id == PAGE_ORDER + stored, redemptions.c.status == "succeeded"
        )
    ).scalar()


def _slidable(row: Any, token_ok: bool) -> bool:
    return token_ok if row.customer_id is not None else row.per_coupon == 1


def coupon_page(
    db: Database, links: CouponLinks, code: str, token: str | None, now: datetime
) -> CouponPage | None:
    """The page of a coupon, or None: no such code, or a personal coupon opened without its holder's
    signed link (answered exactly as an unknown code, so guessing codes tells nothing)."""
    stored = safe_normalize(code)
    if not stored:
        return None
    with db.read() as conn:
        row = _load(conn, stored)
        if row is None:
            return None
        token_ok = (
            row.customer_id is not None
            and token is not None
            and links.token_valid(row.code, row.customer_id, token)
        )
        if row.customer_id is not None and not token_ok:
            return None
        slid_at = _slid_at(conn, stored)
        snapshots, customer = load_snapshots(conn, [stored], row.customer_id)
    rules = rules_from_row(row)
    outcome = price(till_cart(rules), snapshots, customer, now).codes[0]
    _, starts, ends = coupon_status(row, now)
    if slid_at is not None:
        state, reason = "used", None
    elif outcome.valid:
        state, reason = "valid", None
    else:
        assert outcome.reason is not None
        state = _STATE_OF.get(outcome.reason, "unavailable")
        if outcome.reason is Reason.CUSTOMER_LIMIT_REACHED and row.customer_id is not None:
            state = "used"
        reason = reason_words(outcome.reason) if state == "unavailable" else None
    return CouponPage(
        code=row.display_code,
        stored=stored,
        campaign_name=row.name,
        image_url=row.definition.get("image_url"),
        currency=row.currency,
        discount=describe_discount(rules.benefit, rules.currency),
        terms=describe_terms(rules, now=now, starts_at=starts, ends_at=ends),
        starts_at=starts,
        ends_at=ends,
        personal=row.customer_id is not None,
        state=state,
        reason=reason,
        can_slide=state == "valid" and _slidable(row, token_ok),
        redeemed_at=slid_at,
    )


@dataclass(frozen=True)
class Slide:
    """What a slide did: `redeemed` (now or by this same attempt before), `already_used`, or `refused`."""

    outcome: str
    redeemed_at: datetime | None = None
    reason: str | None = None


def _till_request(order_id: str, rules: CampaignRules, code: str, customer_id: str | None,
                  amount: int | None) -> RedemptionRequest:  # fmt: skip
    cart = till_cart(rules, amount)
    payload = {
        "order_id": order_id,
        "codes": [code],
        "customer_id": customer_id,
        "cart": {"currency": cart.currency, "amount": amount, "channel": cart.channel},
    }
    return RedemptionRequest(order_id, cart, (code,), customer_id, payload)


def slide_to_redeem(
    db: Database, links: CouponLinks, code: str, token: str | None, attempt: str, now: datetime
) -> Slide | None:
    """Redeem the coupon from its page, once. None when the page itself would not be shown."""
    page = coupon_page(db, links, code, token, now)
    if page is None:
        return None
    # no shortcut when the page shows it used: a retried attempt must get its first answer back
    with db.read() as conn:
        row = _load(conn, page.stored)
    if not _slidable(row, token is not None):
        return Slide("refused", reason="This coupon cannot be redeemed from its page: show it at the till.")
    request = _till_request(PAGE_ORDER + page.stored, rules_from_row(row), page.stored, row.customer_id, None)
    try:
        _, body = redemption_service.redeem(db, COUPON_PAGE, request, now, f"{page.stored}:{attempt}"[:200])
    except Conflict as conflict:
        if conflict.code == "already_redeemed":
            with db.read() as conn:
                return Slide("already_used", _slid_at(conn, page.stored))
        if isinstance(conflict, RedemptionRefused):
            refused = next(c for c in conflict.extra["codes"] if not c["valid"])
            reason = Reason(refused["reason"])
            if reason in (Reason.COUPON_USED_UP, Reason.CUSTOMER_LIMIT_REACHED):
                return Slide("already_used", page.redeemed_at)
            return Slide("refused", reason=reason_words(reason))
        raise
    return Slide("redeemed", datetime.fromisoformat(body["created_at"]))


# --- the POS page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TillCheck:
    """A code checked at the till against an amount: valid, or why not in words."""

    code: str  # as typed
    found: bool
    valid: bool
    campaign_name: str | None = None
    currency: str | None = None
    discount_words: str | None = None
    terms: str | None = None
    amount: int | None = None
    discount: int = 0  # on the amount (shipping discounts are not the till's business)
    to_pay: int | None = None
    reason: str | None = None


def _till_coupon(db: Database, actor: Actor, code: str) -> tuple[CouponSnapshot, Any, str] | None:
    """The coupon, its holder's profile and its campaign's name, as this till may see them."""
    stored = safe_normalize(code)
    if not stored:
        return None
    with db.read() as conn:
        found = conn.execute(
            select(coupons.c.customer_id, campaigns.c.name)
            .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
            .where(coupons.c.code == stored)
        ).first()
        if found is None:
            return None
        # the holder shows the coupon at the till: it is validated for them
        snapshots, customer = load_snapshots(conn, [stored], found.customer_id, store_scope=actor.store_scope)
    snapshot = snapshots[0]
    return (snapshot, customer, found.name) if isinstance(snapshot, CouponSnapshot) else None


def _check(code: str, name: str, rules: CampaignRules, outcome: dict[str, Any] | CodeOutcome,
           amount: int | None, now: datetime) -> TillCheck:  # fmt: skip
    get = outcome.get if isinstance(outcome, dict) else lambda k: getattr(outcome, k)
    reason = get("reason")
    discount = get("discount") or 0
    return TillCheck(
        code=code,
        found=True,
        valid=bool(get("valid")),
        campaign_name=name,
        currency=rules.currency,
        discount_words=describe_discount(rules.benefit, rules.currency),
        terms=describe_terms(rules, now=now),
        amount=amount,
        discount=discount,
        to_pay=None if amount is None else amount - discount,
        reason=None if reason is None else reason_words(Reason(reason), rules),
    )


AMOUNT_HELP = "Type the amount as a number, like 12.50."


def _amount(typed: str | None, rules: CampaignRules) -> tuple[int | None, bool]:
    """(amount in minor units or None when none was typed, whether what was typed is an amount)."""
    if typed is None or not typed.strip():
        return None, True
    amount = parse_amount(typed, rules.currency)
    return amount, amount is not None


def check_at_till(
    db: Database, actor: Actor, code: str, typed_amount: str | None, now: datetime
) -> TillCheck:
    """Whether `code` takes something off the typed amount at this till (no side effects). Without an
    amount the coupon is judged on its face-value order, so staff see at once whether it is usable."""
    actor.require(Permission.VALIDATE)
    found = _till_coupon(db, actor, code)
    if found is None:
        return TillCheck(code, found=False, valid=False, reason=reason_words(Reason.UNKNOWN_CODE))
    snapshot, customer, name = found
    amount, readable = _amount(typed_amount, snapshot.rules)
    if not readable:
        return replace(_check(code, name, snapshot.rules, {"valid": False}, None, now), reason=AMOUNT_HELP)
    outcome = price(till_cart(snapshot.rules, amount), [snapshot], customer, now).codes[0]
    return _check(code, name, snapshot.rules, outcome, amount, now)


@dataclass(frozen=True)
class TillRedemption:
    check: TillCheck
    redemption_id: str | None = None
    redeemed_at: datetime | None = None


def redeem_at_till(
    db: Database, actor: Actor, code: str, typed_amount: str | None, attempt: str, now: datetime
) -> TillRedemption:
    """Redeem `code` on the typed amount for the order `pos:{attempt}`; the same attempt again (a double
    tap, a retry) answers as the first did and redeems nothing more."""
    actor.require(Permission.REDEEM)
    found = _till_coupon(db, actor, code)
    if found is None:
        return TillRedemption(
            TillCheck(code, found=False, valid=False, reason=reason_words(Reason.UNKNOWN_CODE))
        )
    snapshot, _, name = found
    amount, readable = _amount(typed_amount, snapshot.rules)
    if not readable:
        return TillRedemption(
            replace(_check(code, name, snapshot.rules, {"valid": False}, None, now), reason=AMOUNT_HELP)
        )
    request = _till_request(POS_ORDER + attempt, snapshot.rules, snapshot.code, snapshot.owner_id, amount)
    request = replace(request, store_scope=actor.store_scope)
    try:
        _, body = redemption_service.redeem(db, actor, request, now, attempt)
    except RedemptionRefused as refused:
        return TillRedemption(_check(code, name, snapshot.rules, refused.extra["codes"][0], amount, now))
    result = _check(code, name, snapshot.rules, body["codes"][0], amount, now)
    return TillRedemption(result, body["id"], datetime.fromisoformat(body["created_at"]))
