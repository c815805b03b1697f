"""Signing in and out of the web pages. Failed sign-ins are throttled per e-mail and per client address
with the same counters as failed code look-ups (adapters/throttle.py): slowed, then refused (429)."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from couponry.adapters.throttle import MemoryThrottle, RedisThrottle, Reservation, Throttle
from couponry.services.access.users import check_password, end_session, start_session
from couponry.services.ids import utcnow
from couponry.web import security
from couponry.web.templating import render

router = security.web_router()

IP_FACTOR = 5  # a client address (an office behind one NAT) may fail five times as often as one e-mail


def _throttles(request: Request) -> tuple[Throttle, Throttle]:
    state = request.app.state
    if not hasattr(state, "signin_throttles"):
        s = state.settings
        made = []
        for factor in (1, IP_FACTOR):
            limits = (s.signin_slow_after * factor, s.signin_block_after * factor, s.signin_window_seconds)
            made.append(RedisThrottle(s.redis_url, *limits) if s.redis_url else MemoryThrottle(*limits))
        state.signin_throttles = tuple(made)
    return state.signin_throttles


def _keys(request: Request, email: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]  # no e-mail in Redis key names
    client = request.client.host if request.client else "unknown"
    return f"signin:{digest}", f"signin-ip:{client}"


def _page(
    request: Request, *, next_: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    return render(
        request, "auth/sign_in.html", {"next": next_, "email": email, "error": error}, status_code=status
    )


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query's name
    from couponry.web import home_of

    user = await security.current_user(request)
    if user is not None:
        return RedirectResponse(security.safe_next(next, home_of(user.role.value)), status_code=303)
    return _page(request, next_=security.safe_next(next, ""))


@router.post("/sign-in")
def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",  # noqa: A002
) -> Response:
    from couponry.web import home_of

    throttles = _throttles(request)
    keys = _keys(request, email)
    for throttle, key in zip(throttles, keys, strict=True):
        verdict = throttle.advise(key)
        if verdict.retry_after is not None:
            return _too_many(request, next, email, verdict.retry_after)
        if verdict.delay:
            time.sleep(verdict.delay)  # this handler runs on a worker thread, not the event loop
    reservations: list[tuple[Throttle, Reservation]] = []
    for throttle, key in zip(throttles, keys, strict=True):
        reservation = throttle.reserve(key, 1)
        if reservation.retry_after is not None:
            for taken, held in reservations:
                taken.settle(held, 0)
            return _too_many(request, next, email, reservation.retry_after)
        reservations.append((throttle, reservation))
    db = request.app.state.db
    user = check_password(db, email, password)
    for throttle, reservation in reservations:
        throttle.settle(reservation, 0 if user else 1)
    if user is None:
        return _page(
            request,
            next_=security.safe_next(next, ""),
            email=email,
            error="That e-mail and password do not match an account.",
            status=401,
        )
    lifetime_hours = request.app.state.settings.session_hours
    from datetime import timedelta

    token = start_session(db, user, utcnow(), timedelta(hours=lifetime_hours))
    target = security.safe_next(next, home_of(user.role.value))
    response = RedirectResponse(target, status_code=303)
    security.set_session_cookie(response, request, token, max_age=int(lifetime_hours * 3600))
    security.renew_csrf_seed(request)
    security.set_csrf_cookie(response, request)
    return response


def _too_many(request: Request, next_: str, email: str, retry_after: int) -> Response:
    minutes = max(1, round(retry_after / 60))
    response = _page(
        request,
        next_=security.safe_next(next_, ""),
        email=email,
        status=429,
        error=f"Too many failed sign-ins. Try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    token = security.session_token(request)
    if token:
        end_session(request.app.state.db, token)
    response = RedirectResponse("/sign-in", status_code=303)
    security.clear_session_cookie(response, request)
    security.renew_csrf_seed(request)
    security.set_csrf_cookie(response, request)
    return response
