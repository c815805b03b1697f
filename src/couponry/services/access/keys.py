"""API keys: created once and shown once, stored as SHA-256 hashes, resolved to an Actor per request.

Keys are 32 random bytes, so a plain SHA-256 is enough (no password stretching needed) and lets the
look-up be one indexed equality. Resolved keys are cached in-process for a few seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime

from sqlalchemy import insert, select, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import api_keys
from couponry.domain.errors import InvalidInput, NotFound, Unauthorized
from couponry.services.access.actors import Actor, Role
from couponry.services.ids import new_id

PREFIX = "cpn_"
CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, Actor]] = {}


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, *, role: str, name: str, store_id: str | None, now: datetime) -> tuple[str, str]:
    """Returns (key id, secret). The secret is not stored and cannot be shown again."""
    try:
        role_ = Role(role)
    except ValueError:
        raise InvalidInput("role", f"must be one of {', '.join(r.value for r in Role)}") from None
    if (role_ is Role.STORE) != bool(store_id):
        raise InvalidInput("store_id", "a store key needs a store id, and only a store key takes one")
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    secret = PREFIX + secrets.token_urlsafe(32)
    key_id = new_id()
    with db.write() as conn:
        conn.execute(
            insert(api_keys).values(
                id=key_id,
                name=name,
                role=role_.value,
                store_id=store_id,
                key_hash=hash_key(secret),
                prefix=secret[:8],
                created_at=now,
            )
        )
    return key_id, secret


def cached_actor(secret: str | None) -> Actor | None:
    """The actor of a key resolved in the last few seconds, without touching the database."""
    if not secret:
        return None
    hit = _cache.get(hash_key(secret))
    return hit[1] if hit and hit[0] > time.monotonic() else None


def authenticate(db: Database, secret: str | None) -> Actor:
    if not secret:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    digest = hash_key(secret)
    with db.read() as conn:
        row = conn.execute(
            select(api_keys.c.id, api_keys.c.role, api_keys.c.store_id).where(
                api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        raise Unauthorized("unknown API key")
    actor = Actor(key_id=row.id, role=Role(row.role), store_id=row.store_id)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (time.monotonic() + CACHE_SECONDS, actor)
    return actor


def list_keys(db: Database) -> list[dict[str, object]]:
    """Every key with its role, store and state; never the secret (it is not stored)."""
    with db.read() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "store_id": r.store_id,
            "prefix": r.prefix,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def revoke_key(db: Database, key_id: str, now: datetime) -> None:
    """Refuse the key from now on: at once for look-ups, within CACHE_SECONDS in processes that
    resolved it recently."""
    with db.write() as conn:
        row = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(api_keys.c.key_hash)
        ).first()
        if row is None:
            if conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is None:
                raise NotFound(f"no API key {key_id}")
            return
    _cache.pop(row.key_hash, None)
