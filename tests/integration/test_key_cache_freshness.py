"""The cache of resolved API keys stays fresh without stalling the requests that use it: the revocation
counter is read again ahead of need, once, while the cache answers; requests whose key is cached under
a counter read too long ago wait for one shared read instead of each looking its key up; and a
revocation counted meanwhile still makes them look their keys up (services.access.keys, api.deps)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from couponry.adapters.db.engine import Database
from couponry.api.deps import RevocationReads, fresh_actor
from couponry.services.access import keys
from couponry.services.access.keys import authenticate, create_key, revoke_key
from tests.integration.checkout import T0


@pytest.fixture
def app(db: Database) -> Any:
    return SimpleNamespace(state=SimpleNamespace(db=db, revocation_reads=RevocationReads()))


@pytest.fixture
def reads_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the revocation counter was read (the real read, counted)."""
    count: list[int] = []
    real = keys.refresh_revocations

    def counted(db: Database) -> None:
        count.append(1)
        real(db)

    monkeypatch.setattr("couponry.api.deps.refresh_revocations", counted)
    return count


def age_counter_by(seconds: float) -> None:
    keys._resolved._seen_at -= seconds  # as if that much time went by since the counter was read


def test_requests_with_a_key_cached_too_long_ago_share_one_read_of_the_counter(
    db: Database, app: Any, reads_counted: list[int]
) -> None:
    _, secret = create_key(db, role="admin", name="shared read", store_id=None, now=T0)
    actor = authenticate(db, secret)
    age_counter_by(keys.FRESH_SECONDS + 1)
    assert keys.cached_actor(secret) is None  # too old to answer by itself

    async def many() -> list[Any]:
        return await asyncio.gather(*(fresh_actor(app, secret) for _ in range(20)))

    answers = asyncio.run(many())

    assert answers == [actor] * 20
    assert len(reads_counted) == 1
    assert keys.cached_actor(secret) == actor


def test_the_counter_is_read_ahead_of_need_while_the_cache_goes_on_answering(
    db: Database, app: Any, reads_counted: list[int]
) -> None:
    _, secret = create_key(db, role="admin", name="read ahead", store_id=None, now=T0)
    actor = authenticate(db, secret)

    async def twice() -> tuple[Any, Any]:
        first = await fresh_actor(app, secret)
        assert reads_counted == []  # young: nothing to read
        age_counter_by(keys.REFRESH_AHEAD + 0.01)
        second = await fresh_actor(app, secret)  # answered from the cache at once ...
        third = await fresh_actor(app, secret)  # ... and one read is started, not two
        await app.state.revocation_reads.start(db)
        return first, (second, third)

    first, (second, third) = asyncio.run(twice())

    assert first == second == third == actor
    assert len(reads_counted) == 1
    assert not keys.revocations_due()  # the read made the counter young again


def test_a_revocation_counted_meanwhile_sends_a_waiting_request_to_look_its_key_up(
    db: Database, app: Any
) -> None:
    _, secret = create_key(db, role="admin", name="kept", store_id=None, now=T0)
    revoked_id, revoked = create_key(db, role="admin", name="revoked", store_id=None, now=T0)
    authenticate(db, secret)
    authenticate(db, revoked)
    revoke_key(db, revoked_id, T0)
    age_counter_by(keys.FRESH_SECONDS + 1)

    assert asyncio.run(fresh_actor(app, revoked)) is None
    assert asyncio.run(fresh_actor(app, secret)) is None  # the changed counter emptied the cache
    assert not keys.resolved_before(secret)


def test_a_key_never_resolved_here_is_left_to_the_look_up(db: Database, app: Any) -> None:
    _, secret = create_key(db, role="admin", name="unseen", store_id=None, now=T0)

    assert asyncio.run(fresh_actor(app, secret)) is None
    assert asyncio.run(fresh_actor(app, None)) is None
