"""Portal links: a short-lived signed link to one customer's pages (wallet, coupon center ...).

A shop's storefront, whose customer is signed in there, asks for a link (`POST
/v1/customers/{id}/portal-links`) and sends the customer to it, like a billing-portal session. The
token names the customer and when it expires, signed with HMAC-SHA256 under the server's signing key
(services/messaging/secrets.py) with a purpose of its own, so an unsubscribe or coupon token is never
a portal token. Nothing is stored: any process of the installation can check it, and it stops working
at `expires_at`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from couponry.adapters.db.campaign_rules import benefit_from_dict
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, customers
from couponry.domain.errors import ClaimRefused, NotFound
from couponry.domain.wording import describe_discount
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.campaigns.coupons import wallet
from couponry.services.distribution import claims
from couponry.services.distribution.links import CouponLinks
from couponry.services.messaging.secrets import signing_key
from couponry.settings import Settings

_PURPOSE = b"portal:"
PATH = "/portal"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, customer_id: str, expires: int) -> bytes:
    return hmac.new(key, _PURPOSE + f"{expires}:{customer_id}".encode(), hashlib.sha256).digest()[:18]


def portal_token(key: bytes, customer_id: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{_b64(customer_id.encode())}.{expires}.{_b64(_mac(key, customer_id, expires))}"


@dataclass(frozen=True)
class PortalVisit:
    customer_id: str
    expires_at: datetime


def read_portal_token(key: bytes, token: str, now: datetime) -> PortalVisit | None:
    """The customer a token names while it is valid; None when tampered with, malformed or expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
        return None
    try:
        customer_id = _unb64(parts[0]).decode()
        given = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    expires = int(parts[1])
    if not hmac.compare_digest(given, _mac(key, customer_id, expires)):
        return None
    expires_at = datetime.fromtimestamp(expires, UTC)
    return PortalVisit(customer_id, expires_at) if now < expires_at else None


def create_portal_link(
    db: Database, actor: Actor, customer_id: str, now: datetime, settings: Settings
) -> dict[str, Any]:
    """A link to the customer's pages, valid for `settings.portal_link_minutes` (storefront and admin
    keys: the keys that may read wallets). An unknown customer is 404: a link to nobody's pages helps
    nobody, and the storefront learns of its mistake at once."""
    actor.require(Permission.WALLET)
    with db.read() as conn:
        known = conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first()
    if known is None:
        raise NotFound(f"no customer {customer_id}")
    expires_at = (now + timedelta(minutes=settings.portal_link_minutes)).replace(microsecond=0)
    token = portal_token(signing_key(db, settings.secret_key), customer_id, expires_at)
    return {"url": f"{settings.public_url.rstrip('/')}{PATH}/{token}", "expires_at": expires_at}


# --- what the portal pages show --------------------------------------------------------------------

# Who acts on the portal pages: a storefront of no store, the role a shop's storefront has for its
# signed-in customer. Its key id namespaces the claims' Idempotency-Keys (prefixed by the customer).
PORTAL = Actor(key_id="portal", role=Role.STOREFRONT)
CLAIM_REASONS = {
    "out_of_stock": "All claimed: none left.",
    "claim_limit_reached": "You have claimed this already.",
    "claim_not_open": "Not open for claiming now.",
    "not_claimable": "Not for your account.",
}


def _words(discount: dict[str, Any], currency: str) -> str:
    return describe_discount(benefit_from_dict(discount), currency)


def portal_wallet(db: Database, links: CouponLinks, customer_id: str, now: datetime) -> list[dict[str, Any]]:
    """The customer's usable coupons, newest first, each with its campaign's name, its discount in
    words, its end and its page (the signed link of a personal coupon)."""
    items, _ = wallet(db, PORTAL, customer_id, now, limit=100)
    ids = {i["campaign_id"] for i in items}
    with db.read() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(campaigns.c.id, campaigns.c.name, campaigns.c.currency, campaigns.c.definition).where(
                    campaigns.c.id.in_(ids)
                )
            )
        }
    return [
        {
            "code": i["code"],
            "name": rows[i["campaign_id"]].name,
            "discount": _words(
                rows[i["campaign_id"]].definition["discount"], rows[i["campaign_id"]].currency
            ),
            "status": i["status"],
            "starts_at": i["validity"]["starts_at"],
            "ends_at": i["validity"]["ends_at"],
            "url": same_site(links.url(i["code"], customer_id)),
        }
        for i in items
    ]


def same_site(url: str) -> str:
    """A link of this server as a path: the portal's pages are served by the server they link to."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def portal_center(db: Database, customer_id: str, now: datetime) -> list[dict[str, Any]]:
    """The coupon center as this customer sees it, with discounts and refusals in words."""
    listed = claims.coupon_center(
        db, PORTAL, customer_id=customer_id, product_id=None, category=None, now=now
    )
    return [
        {
            **item,
            "discount_words": _words(item["discount"], item["currency"]),
            "reason_words": CLAIM_REASONS.get(item["reason"] or "", None),
        }
        for item in listed["items"]
    ]


def portal_claim(
    db: Database, customer_id: str, campaign_id: str, attempt: str, now: datetime
) -> tuple[dict[str, Any] | None, str | None]:
    """(the claimed coupon, None) or (None, why not in words). The attempt is the Idempotency-Key: a
    double click claims once and shows the same coupon twice."""
    key = f"{customer_id}:{attempt}"[:200]
    try:
        _, body = claims.claim(db, PORTAL, campaign_id, customer_id, now, key)
    except ClaimRefused as refused:
        return None, CLAIM_REASONS.get(refused.code, "This coupon cannot be claimed.")
    return body, None
