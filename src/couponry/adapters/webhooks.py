"""Signing and POSTing one webhook delivery (httpx).

`Couponry-Signature: t=UNIX,v1=HEX` with HEX = HMAC-SHA256(secret, f"{t}.{raw body}"), Stripe's scheme:
the timestamp is inside the signed text, so a receiver that refuses a `t` more than 300 s from its clock
cannot be fed a captured delivery later. `t` is the wall clock at sending (never the scheduler's `--now`),
since it is the receiver's clock it must match.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

SIGNATURE_HEADER = "Couponry-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(frozen=True)
class PostResult:
    status: int | None  # the receiver's HTTP status, None if it never answered
    error: str | None  # why it is not a success

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(client: httpx.Client, url: str, secret: str, body: bytes, event_id: str) -> PostResult:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Couponry-Webhooks/1",
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        "Couponry-Event-Id": event_id,
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


def client(timeout: float) -> httpx.Client:
    """No redirects followed (a signed delivery goes where it was registered), no proxies from the
    environment."""
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
