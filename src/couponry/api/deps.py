"""Request dependencies: the database, the caller (from the API key), the throttle, the clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from couponry.adapters.db.engine import Database
from couponry.adapters.throttle import Throttle
from couponry.api.metrics import REFUSALS
from couponry.domain.errors import RedemptionRefused, Throttled
from couponry.domain.reasons import Reason
from couponry.services.access.actors import Actor
from couponry.services.access.keys import authenticate, cached_actor
from couponry.services.ids import utcnow

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the thread
# pool, and those hand-offs cost more than the work (a third of a validation's CPU, measured).


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    secret = None
    if authorization and authorization[:7].lower() == "bearer ":
        secret = authorization[7:].strip()
    actor = cached_actor(secret)
    if actor is None:  # a database look-up: off the event loop
        actor = await run_in_threadpool(authenticate, request.app.state.db, secret)
    return actor


async def get_now() -> datetime:
    return utcnow()


DbDep = Annotated[Database, Depends(get_db)]
ActorDep = Annotated[Actor, Depends(get_actor)]
NowDep = Annotated[datetime, Depends(get_now)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class CodeLookups:
    """Guards an endpoint that looks codes up: slowed, then refused, after repeated unknown codes.
    Every refusal reason it sees is counted in the metrics; unknown codes also count for the throttle."""

    def __init__(self, throttle: Throttle, actor: Actor) -> None:
        self.throttle, self.actor = throttle, actor

    @contextmanager
    def guard(self) -> Iterator[CodeLookups]:
        verdict = self.throttle.check(self.actor.key_id)
        if verdict.retry_after is not None:
            raise Throttled(
                f"too many unknown codes from this key; retry in {verdict.retry_after} s",
                retry_after=verdict.retry_after,
            )
        if verdict.delay:
            time.sleep(verdict.delay)
        try:
            yield self
        except RedemptionRefused as refused:
            self.saw(refused.extra["codes"])
            raise

    def saw(self, codes: list[dict[str, Any]]) -> None:
        """Record the answers given for codes (bodies of API.md's `codes` list)."""
        unknown = 0
        for code in codes:
            if not code["valid"]:
                REFUSALS.labels(code["reason"]).inc()
                unknown += code["reason"] == Reason.UNKNOWN_CODE
        self.failed(unknown)

    def failed(self, n: int) -> None:
        if n:
            self.throttle.record_failures(self.actor.key_id, n)


async def get_lookups(request: Request, actor: ActorDep) -> CodeLookups:
    return CodeLookups(request.app.state.throttle, actor)


LookupsDep = Annotated[CodeLookups, Depends(get_lookups)]
