"""Public links to coupons: `/c/{code}` and, for a personal coupon, a token only its holder's link has.

The token is an HMAC-SHA256 over the stored code and the holder, keyed with the server's signing key
(COUPONRY_SECRET_KEY, or the random one kept in the database: services/messaging/secrets.py), so a
stranger who knows or guesses a code cannot build its holder's link. The coupon page checks it with
`CouponLinks.token_valid` before offering slide-to-redeem.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

from couponry.adapters.db.engine import Database
from couponry.domain.codes import normalize
from couponry.services.messaging.secrets import signing_key
from couponry.settings import Settings, get_settings

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")  # every generated code: no quoting needed


@dataclass(frozen=True)
class CouponLinks:
    public_url: str
    key: bytes

    def token(self, code: str, customer_id: str, *, stored: str | None = None) -> str:
        """The token of a personal coupon's link; `stored` (the normalized code) saves normalizing."""
        message = f"coupon:{stored or normalize(code)}:{customer_id}".encode()
        mac = hmac.digest(self.key, message, "sha256")
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def token_valid(self, code: str, customer_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(code, customer_id), token)

    def url(self, display_code: str, customer_id: str | None, *, code: str | None = None) -> str:
        path = display_code if _URL_SAFE.fullmatch(display_code) else quote(display_code, safe="")
        url = f"{self.public_url.rstrip('/')}/c/{path}"
        if customer_id is not None:
            url += f"?t={self.token(display_code, customer_id, stored=code)}"
        return url


def coupon_links(db: Database, settings: Settings | None = None) -> CouponLinks:
    settings = settings or get_settings()
    return CouponLinks(settings.public_url, signing_key(db, settings.secret_key))
