"""Running a request's blocking work (database transactions) off the event loop, in one hop.

FastAPI runs a plain `def` endpoint or dependency through anyio's thread pool: a capacity limiter, a
cancel scope and a queue per call. Measured here, that hand-off cost more server CPU than the
validation's own query. Checkout endpoints are `async def` instead and hand their whole use case to
this pool in one `run_in_executor` call: one hop per request, none per dependency.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from fastapi import Request

P = ParamSpec("P")
T = TypeVar("T")

# as many threads as anyio's default limiter gave the sync endpoints (and SQLite's pool has connections)
THREADS = 40


def make_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="couponry-request")


async def in_thread(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on the app's request pool, with the caller's context variables (the
    request id the log lines carry)."""
    return await in_pool(request.app.state.threads, fn, *args, **kwargs)


async def in_pool(pool: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on `pool`, with the caller's context variables."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)
