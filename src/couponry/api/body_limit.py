"""Request bodies are capped before anything parses them, and a large one is read only for a known key.

Without a cap a single 56 MB JSON body held the server for seconds and grew it by a gigabyte before
its missing key was even noticed. This pure-ASGI middleware:

- answers 413 `body_too_large` at once when Content-Length exceeds the cap, without reading the body;
- counts the bytes of a body streamed without Content-Length and answers 413 as soon as they pass
  the cap, handing the application a disconnect so nothing it does afterwards is sent;
- before letting a body larger than `AUTH_FIRST_BYTES` (or one of unknown size) be read on the API
  (`/v1/...`), resolves the API key, so a request without a valid key gets its 401 having sent no
  more than its headers.

The vanity-codes route (`POST /v1/campaigns/{id}/coupons`, up to 10,000 codes) has a cap of its own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from couponry.api.deps import get_actor
from couponry.api.problems import problem
from couponry.domain.errors import Unauthorized

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_FIRST_BYTES = 64 * 1024
CODES_ROUTE = re.compile(r"^/v1/campaigns/[^/]+/coupons/?$")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, codes_max_bytes: int) -> None:
        self.app, self.max_bytes, self.codes_max_bytes = app, max_bytes, codes_max_bytes

    def limit_for(self, scope: Scope) -> int:
        if scope["method"] == "POST" and CODES_ROUTE.match(scope["path"]):
            return self.codes_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length, chunked = _declared_length(scope)
        if length is not None and length > limit:
            await _too_large(scope, receive, send, limit)
            return
        large = chunked or (length is not None and length > AUTH_FIRST_BYTES)
        if large and scope["path"].startswith("/v1/"):
            request = Request(scope)
            try:
                await get_actor(request, request.headers.get("authorization"))
            except Unauthorized as exc:
                response = problem(401, exc.code, exc.title, exc.detail)
                response.headers["Connection"] = "close"  # the body is not read
                await response(scope, receive, send)
                return

        received = 0
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once the 413 is sent, it is the answer
                await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length if given, whether the body is chunked, i.e. of unknown length)."""
    length, chunked = None, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem(
        413, "body_too_large", "Request body too large", f"the request body must not exceed {limit} bytes"
    )
    response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)
