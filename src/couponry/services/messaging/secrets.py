"""The server's signing key: COUPONRY_SECRET_KEY, or one generated once and kept in the database.

Every process of an installation must sign and check unsubscribe links with the same key. When the
setting is unset, the first process to need the key inserts a random one (INSERT … ON CONFLICT DO
NOTHING) and every process then reads the row, so they agree without configuration.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import server_secrets
from couponry.services.ids import utcnow

_NAME = "signing_key"
_cache: dict[str, bytes] = {}


def signing_key(db: Database, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    cached = _cache.get(db.url)
    if cached is not None:
        return cached
    with db.write() as conn:
        insert_ignoring_conflicts(
            conn,
            server_secrets,
            {"name": _NAME, "value": secrets.token_urlsafe(32), "created_at": utcnow()},
        )
        value = conn.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == _NAME)
        ).scalar_one()
    _cache[db.url] = value.encode()
    return _cache[db.url]
