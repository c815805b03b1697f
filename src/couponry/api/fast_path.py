"""The common case of the hot routes (validation, redemption, order events), answered before Starlette
and FastAPI.

Measured on `POST /v1/validations` (SQLite, one process), the framework's layers cost more server CPU
than the validation itself: FastAPI's and Starlette's middleware stack (six layers, each wrapping
`send`), route matching over every route of the app (a fifth of the request), `Request` objects and
dependency solving, then `json.loads` and validation of the parsed data. The fast path reads what the
common request needs straight from the ASGI scope, parses the body once with pydantic's JSON parser
(`model_validate_json`, the same schema as the declared endpoint), runs the same use case and writes
the answer as two ASGI messages.

Anything that is not the common case goes to the app as usual, on the same request (the body, when
already read, is handed over as it came), so every refusal the framework gives and the OpenAPI document
stay exactly those of the declared endpoints: no JSON content type, no or a large Content-Length, an
empty or invalid body, a key not resolved recently in this process, a throttled key, an odd header.
The use case's own refusals (a refused code, a conflict) are answered here, by the same mapping to
problem details (`problems.domain_problem`). Bodies the JSON parser accepts are validated to the same
values as by `json.loads` then pydantic (tests/unit/test_fast_path_parsing.py compares the two).

The edge middleware (request id, metrics, access log, headers) wraps the fast path as it wraps the app:
a request that falls through is marked so that it passes the edge once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from couponry.adapters.throttle import Throttle
from couponry.api.body_limit import AUTH_FIRST_BYTES
from couponry.api.deps import CodeLookups, fresh_actor
from couponry.api.middleware import EdgeMiddleware
from couponry.api.problems import domain_problem, internal_error
from couponry.domain.errors import CouponryError
from couponry.services.access.actors import Actor, Role

log = logging.getLogger("couponry.api")

M = TypeVar("M", bound=BaseModel)

_AUTHORIZATION = b"authorization"
_CONTENT_TYPE = b"content-type"
_CONTENT_LENGTH = b"content-length"
_IDEMPOTENCY_KEY = b"idempotency-key"
_TRANSFER_ENCODING = b"transfer-encoding"
_JSON_HEADER = (b"content-type", b"application/json")


@dataclass(slots=True)
class Common(Generic[M]):
    """What the common case of a hot request carries: the caller, its throttle guard, the parsed body."""

    app: FastAPI
    actor: Actor
    lookups: CodeLookups
    body: M
    idempotency_key: str | None


# A hot route's use case: the common request in, (status, JSON bytes of the answer) out; a domain
# error it raises is answered as a problem.
Handler = Callable[[Common[Any]], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class HotRoute:
    """A declared POST route whose common case `handler` answers, given its body `model`. `parse` turns
    the raw body into what `handler` is given (by default the model, from pydantic's JSON parser); None
    for a body it does not take, which the declared endpoint then answers."""

    path: str
    model: type[BaseModel]
    handler: Handler
    parse: Callable[[bytes], Any] | None = None

    def parsed(self, raw: bytes) -> Any:
        if self.parse is not None:
            return self.parse(raw)
        try:
            return self.model.model_validate_json(raw)
        except ValidationError:
            return None


class FastPath:
    """The ASGI app of the hot routes' common case; everything else goes to `regular` (the app)."""

    def __init__(self, app: FastAPI, regular: ASGIApp, hot: HotRoute, max_body_bytes: int) -> None:
        self.app, self.regular, self.hot = app, regular, hot
        self.max_bytes = min(max_body_bytes, AUTH_FIRST_BYTES)
        self.route = _declared_route(app, hot.path)  # for the metrics' and the log's route template
        self.validation_code = getattr(self.route.endpoint, "validation_code", "invalid_request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        common = self._common_headers(scope)
        actor = await fresh_actor(self.app, common[0]) if common is not None else None
        lookups = self._lookups(actor) if actor is not None else None
        if common is None or actor is None or lookups is None:
            await self.regular(scope, receive, send)
            return
        _, key, length = common
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        body = self.hot.parsed(raw) if len(raw) == length else None
        if body is None:  # the declared endpoint says what is wrong, in its words
            await self.regular(scope, _replay(raw, receive), send)
            return
        scope["route"] = self.route
        try:
            status, answer = await self.hot.handler(Common(self.app, actor, lookups, body, key))
        except CouponryError as exc:
            await domain_problem(exc, self.validation_code)(scope, receive, send)
            return
        except Exception:
            log.exception("unhandled error")
            await internal_error()(scope, receive, send)
            raise
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON_HEADER, (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def _common_headers(self, scope: Scope) -> tuple[str, str | None, int] | None:
        """(API key, Idempotency-Key, Content-Length) of a plain request, else None."""
        authorization = content_type = key = length = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's headers.get
            if name == _AUTHORIZATION:
                authorization = value if authorization is None else authorization
            elif name == _CONTENT_TYPE:
                content_type = value if content_type is None else content_type
            elif name == _CONTENT_LENGTH:
                length = value if length is None else length
            elif name == _IDEMPOTENCY_KEY:
                key = value if key is None else key
            elif name == _TRANSFER_ENCODING:
                return None
        if content_type is None or authorization is None or length is None:
            return None
        if content_type.decode("latin-1").partition(";")[0].strip().lower() != "application/json":
            return None
        if not length.isdigit() or not 0 < int(length) <= self.max_bytes:
            return None
        auth = authorization.decode("latin-1")
        if auth[:7].lower() != "bearer ":
            return None
        idempotency_key = None
        if key is not None:
            idempotency_key = key.decode("latin-1")
            if not 1 <= len(idempotency_key) <= 200:
                return None
        return auth[7:].strip(), idempotency_key, int(length)

    def _lookups(self, actor: Actor) -> CodeLookups | None:
        """As deps.get_lookups, for a key that is neither slowed nor refused (those go the regular way)."""
        if actor.role is Role.ADMIN:
            return CodeLookups(None, actor)
        throttle: Throttle = self.app.state.throttle
        verdict = throttle.advise(actor.key_id)
        if verdict.retry_after is not None or verdict.delay:
            return None
        return CodeLookups(throttle, actor)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for a request whose body was read already: the body once, then the client's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _declared_route(app: FastAPI, path: str) -> APIRoute:
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        if isinstance(route, APIRoute) and route.path == path and "POST" in route.methods:
            return route
        included = getattr(route, "original_router", None)  # FastAPI >= 0.160 keeps included routers
        if included is not None:
            routes += included.routes
    raise LookupError(f"a fast path for {path}, which the app does not declare")


class CouponryApp(FastAPI):
    """FastAPI, with the hot routes' common case answered first (see the module's docstring)."""

    fast_paths: Mapping[str, ASGIApp] = {}

    def install_fast_paths(self, routes: list[HotRoute], max_body_bytes: int) -> None:
        regular = super().__call__
        self.fast_paths = {
            hot.path: EdgeMiddleware(FastPath(self, regular, hot, max_body_bytes)) for hot in routes
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            fast = self.fast_paths.get(scope["path"])
            if fast is not None:
                await fast(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
