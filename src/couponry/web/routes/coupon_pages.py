"""The public page of a coupon (`/c/{code}`) and slide to redeem.

No sign-in: the code (and, for a personal coupon, the signed token of its holder's link, `?t=`) is the
authority. A personal coupon opened without its token is answered exactly like an unknown code, and
look-ups of unknown codes are throttled per client address with the same counters as the API's, so
the page cannot be used to guess codes. Slide to redeem posts an attempt id made by the page's script
for each slide: a retried request answers as the first, a second slide finds the coupon used.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from couponry.adapters.qr import qr_svg
from couponry.adapters.throttle import Reservation, Throttle
from couponry.services.checkout import till
from couponry.services.distribution.links import coupon_links
from couponry.services.ids import utcnow
from couponry.web import security
from couponry.web.templating import render

router = security.web_router()

CONFIRMATION_SECONDS = 60
# a campaign's picture may live on the shop's own site (https): the one widening of the policy
PAGE_CSP = security.CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")
Code = Annotated[str, Path(min_length=1, max_length=200)]
Token = Annotated[str | None, Query(max_length=100)]


def _client(request: Request) -> str:
    return f"page-ip:{request.client.host if request.client else 'unknown'}"


def _not_found(request: Request, status: int = 404) -> Response:
    title = "Coupon not found" if status == 404 else "Too many attempts"
    message = (
        "There is no coupon at this address. Check the link you were sent."
        if status == 404
        else "Too many unknown coupon addresses from here. Try again in a minute."
    )
    return render(request, "public/message.html", {"title": title, "message": message}, status_code=status)


def _seconds_left(redeemed_at: datetime | None, now: datetime) -> int:
    if redeemed_at is None:
        return 0
    return max(0, CONFIRMATION_SECONDS - int((now - redeemed_at).total_seconds()))


async def _reserve(request: Request) -> Reservation | None:
    """Count this look-up against the client address before the code is read (as the API counts a
    key's): slowed past the throttle's first threshold (waiting without a thread), None when refused."""
    throttle: Throttle = request.app.state.throttle
    verdict = throttle.advise(_client(request))
    if verdict.retry_after is not None:
        return None
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    reservation = await run_in_threadpool(throttle.reserve, _client(request), 1)  # Redis: I/O
    return None if reservation.retry_after is not None else reservation


async def _page(request: Request, code: str, token: str | None) -> till.CouponPage | Response:
    state = request.app.state
    reservation = await _reserve(request)
    if reservation is None:
        return _not_found(request, 429)
    links = await run_in_threadpool(coupon_links, state.db, state.settings)
    page = await run_in_threadpool(till.coupon_page, state.db, links, code, token, utcnow())
    await run_in_threadpool(state.throttle.settle, reservation, 1 if page is None else 0)
    return page if page is not None else _not_found(request)


@router.get("/c/{code}")
async def coupon_page(request: Request, code: Code, t: Token = None) -> Response:
    """The coupon: its campaign, discount and terms in words, validity, QR code and state."""
    page = await _page(request, code, t)
    if isinstance(page, Response):
        return page
    context = {"page": page, "token": t, "qr": qr_svg(page.code), "slide": None}
    return render(request, "public/coupon.html", context, csp=PAGE_CSP)


@router.post("/c/{code}/redeem")
async def slide_to_redeem(
    request: Request,
    code: Code,
    attempt: Annotated[str, Form(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    t: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """The slider reached its end: redeem once over the POS channel, answer the coupon's new state."""
    state = request.app.state
    reservation = await _reserve(request)  # a slide looks a code up too
    if reservation is None:
        return _not_found(request, 429)
    links = await run_in_threadpool(coupon_links, state.db, state.settings)
    now = utcnow()
    slide = await run_in_threadpool(till.slide_to_redeem, state.db, links, code, t, attempt, now)
    await run_in_threadpool(state.throttle.settle, reservation, 1 if slide is None else 0)
    if slide is None:
        return _not_found(request)
    page = await run_in_threadpool(till.coupon_page, state.db, links, code, t, now)
    context = {
        "page": page,
        "token": t,
        "slide": slide,
        "seconds_left": _seconds_left(slide.redeemed_at, utcnow()) if slide.outcome == "redeemed" else 0,
        "confirmation_ends": (slide.redeemed_at or now) + timedelta(seconds=CONFIRMATION_SECONDS),
    }
    return render(request, "public/_state.html", context, csp=PAGE_CSP)
