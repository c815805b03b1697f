"""Unsubscribe links: a token naming the customer, signed with the server key (HMAC-SHA256).

The token does not expire (an old mail's link must still work) and does nothing by itself: the page it
opens turns marketing consent off only on POST, since mail scanners follow links (GET) on their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy import update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import customers

_PURPOSE = b"unsubscribe:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, customer_id: str) -> bytes:
    return hmac.new(key, _PURPOSE + customer_id.encode(), hashlib.sha256).digest()[:18]


def token_for(key: bytes, customer_id: str) -> str:
    return f"{_b64(customer_id.encode())}.{_b64(_mac(key, customer_id))}"


def customer_of(key: bytes, token: str) -> str | None:
    """The customer a token names, or None if it was not signed with `key` (compared in constant time)."""
    encoded, _, mac = token.partition(".")
    try:
        customer_id = _unb64(encoded).decode()
        given = _unb64(mac)
    except (ValueError, UnicodeDecodeError):
        return None
    return customer_id if hmac.compare_digest(given, _mac(key, customer_id)) else None


def unsubscribe_url(public_url: str, key: bytes, customer_id: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token_for(key, customer_id)}"


def withdraw_consent(db: Database, customer_id: str, now: datetime) -> bool:
    """Turn the customer's marketing consent off; False if there is no such customer. Mails already
    queued for them are skipped when their turn comes (consent is checked when sending)."""
    with db.write() as conn:
        changed = conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(marketing_consent=False, updated_at=now)
            .returning(customers.c.id)
        ).first()
    return changed is not None
