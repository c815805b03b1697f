"""Request dependencies: the database, the caller (from the API key), the throttle, the clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from couponry.adapters.db.engine import Database, WriterBusy
from couponry.adapters.throttle import Throttle
from couponry.api.metrics import REFUSALS
from couponry.domain.errors import CouponryError, RedemptionRefused, Throttled
from couponry.domain.reasons import Reason
from couponry.services.access.actors import Actor, Role
from couponry.services.access.keys import (
    authenticate,
    cached_actor,
    refresh_revocations,
    resolved_before,
    revocations_due,
)
from couponry.services.ids import utcnow

log = logging.getLogger("couponry.api")

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the thread
# pool, and those hand-offs cost more than the work (a third of a validation's CPU, measured).


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    secret = None
    if authorization and authorization[:7].lower() == "bearer ":
        secret = authorization[7:].strip()
    actor = await fresh_actor(request.app, secret)
    if actor is None:  # a database look-up: off the event loop
        actor = await run_in_threadpool(authenticate, request.app.state.db, secret)
    return actor


async def fresh_actor(app: Any, secret: str | None) -> Actor | None:
    """The caller of a key this process has resolved, with no look-up of its own: from the cache of
    resolved keys, or, when the revocation counter it was cached with is too old, after that counter
    has been read again (one read, shared by every request waiting for it). None for a key this process
    has not resolved, or one a changed counter made it forget: `authenticate` looks those up."""
    if not secret:
        return None
    actor = cached_actor(secret)
    if actor is not None:
        if revocations_due():  # read it ahead of need, out of this request's way
            app.state.revocation_reads.start(app.state.db)
        return actor
    if not resolved_before(secret):
        return None
    try:
        await asyncio.shield(app.state.revocation_reads.start(app.state.db))
    except Exception:  # the look-up's own way reports what is wrong
        return None
    return cached_actor(secret)


class RevocationReads:
    """At most one read of the revocation counter at a time in a process (on a thread of the event
    loop's executor), shared by whoever needs it meanwhile."""

    def __init__(self) -> None:
        self._running: asyncio.Future[None] | None = None

    def start(self, db: Database) -> asyncio.Future[None]:
        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().run_in_executor(None, refresh_revocations, db)
            self._running.add_done_callback(_log_failure)
        return self._running


def _log_failure(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("reading the revocation counter failed", exc_info=done.exception())


async def get_now() -> datetime:
    return utcnow()


DbDep = Annotated[Database, Depends(get_db)]
ActorDep = Annotated[Actor, Depends(get_actor)]
NowDep = Annotated[datetime, Depends(get_now)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class CodeLookups:
    """Guards an endpoint that looks codes up, so codes cannot be guessed (couponry.adapters.throttle).

    `get_lookups` runs first, on the event loop: a key that failed often is slowed there with
    `asyncio.sleep` (no thread is held while it waits) or refused with 429. Then `guard(attempts)`
    reserves that many failures atomically before any code is looked up, refusing the request when
    they would take the key past the limit, and gives back those that found a code once the endpoint
    says how many failed (`saw(codes)` or `failed(n)`; until it does, every attempt counts as failed).
    Every refusal reason seen is counted in the metrics. Admin keys can list every code: throttling
    them protects nothing, so they are not throttled.
    """

    def __init__(self, throttle: Throttle | None, actor: Actor) -> None:
        self.throttle, self.actor = throttle, actor
        self._failures: int | None = None

    @contextmanager
    def guard(self, attempts: int) -> Iterator[CodeLookups]:
        reservation = self.throttle.reserve(self.actor.key_id, attempts) if self.throttle else None
        if reservation is not None and reservation.retry_after is not None:
            raise _throttled(reservation.retry_after)
        self._failures = None
        try:
            yield self
        except RedemptionRefused as refused:
            self.saw(refused.extra["codes"])
            raise
        except CouponryError:  # an answer that names no code (bad input, unknown reservation ...)
            if self._failures is None:
                self._failures = 0
            raise
        except WriterBusy:  # nothing was looked up for good: the request runs again on a thread
            self._failures = 0
            raise
        finally:
            if reservation is not None and self.throttle is not None:
                failures = attempts if self._failures is None else self._failures
                self.throttle.settle(reservation, failures)

    def saw(self, codes: list[dict[str, Any]]) -> None:
        """Record the answers given for codes (bodies of API.md's `codes` list)."""
        unknown = 0
        for code in codes:
            if not code["valid"]:
                REFUSALS.labels(code["reason"]).inc()
                unknown += code["reason"] == Reason.UNKNOWN_CODE
        self.failed(unknown)

    def failed(self, n: int) -> None:
        """`n` of the guarded look-ups failed (found no code this key may see); the rest found one."""
        self._failures = (self._failures or 0) + n


def _throttled(retry_after: int) -> Throttled:
    return Throttled(
        f"too many unknown codes from this key; retry in {retry_after} s", retry_after=retry_after
    )


async def get_lookups(request: Request, actor: ActorDep) -> CodeLookups:
    if actor.role is Role.ADMIN:
        return CodeLookups(None, actor)
    throttle: Throttle = request.app.state.throttle
    verdict = throttle.advise(actor.key_id)  # no I/O: what this process last saw of the key
    if verdict.retry_after is not None:
        raise _throttled(verdict.retry_after)
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    return CodeLookups(throttle, actor)


LookupsDep = Annotated[CodeLookups, Depends(get_lookups)]
