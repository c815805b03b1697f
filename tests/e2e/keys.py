"""API keys made in-process (the CLI path, tests.serving.create_key, costs a Python start-up per key):
for tests that need many keys of several roles and stores."""

from __future__ import annotations

from couponry.adapters.db.engine import Database
from couponry.services.access.keys import create_key
from couponry.services.ids import utcnow


def make_key(database_url: str, role: str, store_id: str | None = None) -> str:
    db = Database(database_url, pool_size=1)
    try:
        _, secret = create_key(db, role=role, name=f"test {role}", store_id=store_id, now=utcnow())
    finally:
        db.dispose()
    return secret
