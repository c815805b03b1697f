"""Public links to coupons: `/c/{code}` and, for a personal coupon, a token only its holder's link has.

The token is an HMAC-SHA256 over the stored code and the holder, keyed with COUPONRY_SECRET_KEY; the
coupon page checks it with `coupon_token_valid` before offering slide-to-redeem.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import cache
from urllib.parse import quote

from couponry.domain.codes import normalize
from couponry.settings import Settings, get_settings

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")  # every generated code: no quoting needed


@cache
def _key(secret_key: str | None, database_url: str) -> bytes:
    seed = secret_key or f"couponry-links:{database_url}"
    return hashlib.sha256(seed.encode()).digest()


def coupon_token(
    code: str, customer_id: str, settings: Settings | None = None, *, stored: str | None = None
) -> str:
    """The token of a personal coupon's link; `stored` (the normalized code) saves normalizing again."""
    settings = settings or get_settings()
    message = f"coupon:{stored or normalize(code)}:{customer_id}".encode()
    mac = hmac.digest(_key(settings.secret_key, settings.database_url), message, "sha256")
    return base64.urlsafe_b64encode(mac[:18]).decode()


def coupon_token_valid(code: str, customer_id: str, token: str, settings: Settings | None = None) -> bool:
    return hmac.compare_digest(coupon_token(code, customer_id, settings), token)


def coupon_url(
    display_code: str, customer_id: str | None, settings: Settings | None = None, *, code: str | None = None
) -> str:
    settings = settings or get_settings()
    path = display_code if _URL_SAFE.fullmatch(display_code) else quote(display_code, safe="")
    url = f"{settings.public_url.rstrip('/')}/c/{path}"
    if customer_id is not None:
        url += f"?t={coupon_token(display_code, customer_id, settings, stored=code)}"
    return url
