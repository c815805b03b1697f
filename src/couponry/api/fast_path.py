"""The common case of a hot route answered without FastAPI's per-request machinery, the rest as before.

FastAPI solves a route's declared dependencies (the caller's key, the throttle, the body, headers) on
every request, then parses the body with `json.loads` and validates the parsed data: measured on
`POST /v1/validations`, that solving and parsing cost more CPU than the validation's own query and
pricing. A route of class `FastPathRoute` whose endpoint carries a `fast_path` (see `fast_path()`) tries
that first: it reads what the common request needs straight from the ASGI scope, and validates the body
with pydantic's own JSON parser (`model_validate_json`, the same schema). Whenever anything is not the
common case — no JSON content type, an empty or invalid body, a key not resolved recently in this
process, a throttled key, an unusual header — the fast path answers None and the route's regular
FastAPI handler runs on the same request (its body is already read and kept by Starlette), so every
refusal, every error body and the OpenAPI document are exactly those of the declared endpoint. Bodies
the JSON parser accepts are validated to the same values as by `json.loads` then pydantic (a unit test
compares the two on edge cases); those it refuses go the regular way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from couponry.adapters.throttle import Throttle
from couponry.api.deps import CodeLookups
from couponry.services.access.actors import Actor, Role
from couponry.services.access.keys import cached_actor

FastPath = Callable[[Request], Awaitable[Response | None]]
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Callable[..., Any])

_AUTHORIZATION = b"authorization"
_CONTENT_TYPE = b"content-type"
_IDEMPOTENCY_KEY = b"idempotency-key"
_JSON = "application/json"


class FastPathRoute(APIRoute):
    """An APIRoute that first offers each request to its endpoint's `fast_path`, if it has one."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        regular = super().get_route_handler()
        fast: FastPath | None = getattr(self.endpoint, "fast_path", None)
        if fast is None:
            return regular

        async def handler(request: Request) -> Response:
            response = await fast(request)
            return response if response is not None else await regular(request)

        return handler


def fast_path(fast: FastPath) -> Callable[[E], E]:
    """Give an endpoint (of a FastPathRoute) the function that answers its common case, or None."""

    def mark(endpoint: E) -> E:
        endpoint.fast_path = fast  # type: ignore[attr-defined]
        return endpoint

    return mark


@dataclass(slots=True)
class Common:
    """What the common case of a hot request carries: the caller, its throttle guard, the parsed body."""

    actor: Actor
    lookups: CodeLookups
    body: Any
    idempotency_key: str | None


async def common_case(request: Request, model: type[M]) -> Common | None:
    """The caller, guard and body of a plain request, or None when the regular handler must decide."""
    authorization = content_type = key = None
    for name, value in request.scope["headers"]:  # the first of each, as Starlette's headers.get
        if name == _AUTHORIZATION:
            authorization = value if authorization is None else authorization
        elif name == _CONTENT_TYPE:
            content_type = value if content_type is None else content_type
        elif name == _IDEMPOTENCY_KEY:
            key = value if key is None else key
    if content_type is None or authorization is None:
        return None
    if content_type.decode("latin-1").partition(";")[0].strip().lower() != _JSON:
        return None
    auth = authorization.decode("latin-1")
    if auth[:7].lower() != "bearer ":
        return None
    actor = cached_actor(auth[7:].strip())
    if actor is None:  # not resolved recently in this process: the regular way looks it up
        return None
    lookups = _lookups(request, actor)
    if lookups is None:
        return None
    idempotency_key = None
    if key is not None:
        idempotency_key = key.decode("latin-1")
        if not 1 <= len(idempotency_key) <= 200:
            return None
    raw = await request.body()
    if not raw:
        return None
    try:
        body = model.model_validate_json(raw)
    except ValidationError:
        return None
    return Common(actor, lookups, body, idempotency_key)


def _lookups(request: Request, actor: Actor) -> CodeLookups | None:
    """As deps.get_lookups, for a key that is neither slowed nor refused (those go the regular way)."""
    if actor.role is Role.ADMIN:
        return CodeLookups(None, actor)
    throttle: Throttle = request.app.state.throttle
    verdict = throttle.advise(actor.key_id)
    if verdict.retry_after is not None or verdict.delay:
        return None
    return CodeLookups(throttle, actor)
