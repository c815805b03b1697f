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

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import customers
from couponry.domain.errors import NotFound
from couponry.services.access.actors import Actor, Permission
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
