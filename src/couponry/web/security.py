"""What keeps the web pages safe: signed cookies, the session, CSRF tokens, roles, and the headers.

- Session: the cookie `couponry_session` holds a random token signed with the server's key (HMAC-SHA256;
  a forged or altered cookie is refused before the database is asked). The token's SHA-256 names a row
  of web_sessions (services/access/users.py). HttpOnly, SameSite=Lax, Secure when served over https.
- CSRF: the cookie `couponry_csrf` holds a random seed (set on the first page a browser gets); the token
  in forms is HMAC(key, seed), so it cannot be made without the server's key nor read by another site.
  Every POST (PUT, PATCH, DELETE) to a router built by `web_router()` must carry it, as the form field
  `csrf_token` or the `X-CSRF-Token` header (htmx sends the header: base.html sets hx-headers), or it is
  refused with 403. The seed is renewed at sign-in and sign-out.
- Roles: `require_user(Role.ADMIN, Role.STORE)` is a dependency giving the signed-in `User`; a visitor
  who is not signed in is sent to /sign-in (303; htmx requests get HX-Redirect), a user of another role
  gets a 403 page. `user.as_actor()` is what the services take: a store user is scoped to its store.
- Headers: `harden(response)` sets the Content-Security-Policy (no inline scripts or styles, nothing from
  another origin), frame-ancestors 'none', no-store, a strict referrer policy. `render()` calls it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from couponry.services.access.actors import Role
from couponry.services.access.users import User, session_user
from couponry.services.ids import utcnow
from couponry.services.messaging.secrets import signing_key

SESSION_COOKIE = "couponry_session"
CSRF_COOKIE = "couponry_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
WEB_TAG = "web"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# default-src 'self' and nothing inline: a script or style injected into a page does not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def harden(response: Response, csp: str | None = None) -> Response:
    """Give a web page its security headers (pass `csp` only to widen the policy for one page)."""
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    if csp:
        response.headers["Content-Security-Policy"] = csp
    return response


# -- signing ------------------------------------------------------------------------------------------


_warm: set[str] = set()


async def warm_signing_key(request: Request) -> None:
    """Router dependency: read (or, the very first time, create) the server's key on a worker thread,
    so the event loop never waits on that database write; afterwards it is cached in the process."""
    db = request.app.state.db
    if db.url not in _warm:
        await run_in_threadpool(signing_key, db, request.app.state.settings.secret_key)
        _warm.add(db.url)


def _key(request: Request, purpose: str) -> bytes:
    settings = request.app.state.settings
    base = signing_key(request.app.state.db, settings.secret_key)  # cached after the first call
    return hmac.new(base, f"couponry.web.{purpose}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(request: Request, purpose: str, value: str) -> str:
    """`value.signature`; `value` must not contain a dot."""
    return f"{value}.{_mac(_key(request, purpose), value)}"


def unsign(request: Request, purpose: str, signed: str | None) -> str | None:
    """The value of a `sign()`ed string, or None when absent, malformed or not signed by this server."""
    if not signed or len(signed) > 200 or signed.count(".") != 1:
        return None
    value, mac = signed.split(".")
    expected = _mac(_key(request, purpose), value)
    return value if hmac.compare_digest(mac, expected) else None


# -- cookies ------------------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sign(request, "session", token),
        max_age=max_age,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=_secure(request), samesite="lax")


def session_token(request: Request) -> str | None:
    """The session token of this request's cookie, if the cookie was signed by this server."""
    return unsign(request, "session", request.cookies.get(SESSION_COOKIE))


# -- CSRF ---------------------------------------------------------------------------------------------


def _seed(request: Request) -> str:
    """This browser's CSRF seed: from its cookie, or a new one that `render()` will set."""
    fresh = getattr(request.state, "new_csrf_seed", None)
    if fresh:
        return fresh
    seed = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(seed) <= 64 and seed.replace("-", "").replace("_", "").isalnum():
        return seed
    request.state.new_csrf_seed = seed = secrets.token_urlsafe(24)
    return seed


def renew_csrf_seed(request: Request) -> None:
    """Give this browser a new seed with the next response (at sign-in and sign-out)."""
    request.state.new_csrf_seed = secrets.token_urlsafe(24)


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms (`{{ csrf_input() }}` in templates)."""
    return _mac(_key(request, "csrf"), _seed(request))


def set_csrf_cookie(response: Response, request: Request) -> None:
    """Send the seed when it is new (render() and the sign-in redirect call this)."""
    fresh = getattr(request.state, "new_csrf_seed", None)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, fresh, path="/", httponly=True, secure=_secure(request), samesite="strict"
        )


class CsrfRefused(Exception):
    """A state-changing request without a valid CSRF token (answered 403 by the web error handler)."""


async def verify_csrf(request: Request) -> None:
    """Router dependency: refuse an unsafe request whose CSRF token is missing or wrong."""
    if request.method not in _UNSAFE:
        return
    seed = request.cookies.get(CSRF_COOKIE)
    if not seed:
        raise CsrfRefused("no CSRF cookie")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached on the request: the endpoint reads the same form
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = _mac(_key(request, "csrf"), seed)
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfRefused("missing or wrong CSRF token")


def web_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for web pages: out of the OpenAPI schema, CSRF-checked on every unsafe method."""
    dependencies = [Depends(warm_signing_key), Depends(verify_csrf), *kwargs.pop("dependencies", [])]
    tags = [WEB_TAG, *kwargs.pop("tags", [])]
    return APIRouter(include_in_schema=False, dependencies=dependencies, tags=tags, **kwargs)


def is_web_request(request: Request) -> bool:
    """Whether the request was routed to a web page (whose errors are pages, not problem+json)."""
    return WEB_TAG in getattr(request.scope.get("route"), "tags", ())


# -- who is signed in ---------------------------------------------------------------------------------


class SignInRequired(Exception):
    """No signed-in user: the web error handler sends the browser to /sign-in?next=..."""


class WrongRole(Exception):
    """Signed in, but this page is not for this user's role (a 403 page)."""

    def __init__(self, user: User) -> None:
        super().__init__(user.role)
        self.user = user


async def current_user(request: Request) -> User | None:
    """The signed-in user, or None; remembered on request.state.user for templates."""
    if hasattr(request.state, "user"):
        return request.state.user
    token = session_token(request)
    user = None
    if token:
        user = await run_in_threadpool(session_user, request.app.state.db, token, utcnow())
    request.state.user = user
    return user


def require_user(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, User]]:
    """A dependency: the signed-in user, who must have one of `roles` (any role when none given)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> User:
        user = await current_user(request)
        if user is None:
            raise SignInRequired()
        if allowed and user.role not in allowed:
            raise WrongRole(user)
        return user

    return dependency


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/sign-in?next=" + quote(target, safe="/")


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never `//evil.example` or `https://...` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
