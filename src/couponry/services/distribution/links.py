"""Public links to coupons: `/c/{code}` and, for a personal coupon, a token only its holder's link has.

The token is an HMAC-SHA256 over the stored code and the holder, keyed with COUPONRY_SECRET_KEY; the
coupon page checks it with `coupon_token_valid` before offering slide-to-redeem.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache
from urllib.parse import quote

from couponry.domain.codes import normalize
from couponry.settings import Settings, get_settings


@cache
def _key(secret_key: str | None, database_url: str) -> bytes:
    seed = secret_key or f"couponry-links:{database_url}"
    return hashlib.sha256(seed.encode()).digest()


def coupon_token(code: str, customer_id: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    mac = hmac.new(
        _key(settings.secret_key, settings.database_url),
        f"coupon:{normalize(code)}:{customer_id}".encode(),
        hashlib.sha256,
    )
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def coupon_token_valid(code: str, customer_id: str, token: str, settings: Settings | None = None) -> bool:
    return hmac.compare_digest(coupon_token(code, customer_id, settings), token)


def coupon_url(display_code: str, customer_id: str | None, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    url = f"{settings.public_url.rstrip('/')}/c/{quote(display_code, safe='')}"
    if customer_id is not None:
        url += f"?t={coupon_token(display_code, customer_id, settings)}"
    return url
