"""Fixtures shared by every ring of tests.

The database under test is SQLite by default; set COUPONRY_TEST_DATABASE_URL=postgresql://... to run
the same tests against PostgreSQL (.ci/run does both). Each pytest-xdist worker gets its own database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from couponry.adapters.db.engine import Database, normalize_url
from couponry.adapters.db.migrate import upgrade
from couponry.adapters.db.tables import metadata

PG_URL = os.environ.get("COUPONRY_TEST_DATABASE_URL", "")
POSTGRES_FOR_CONCURRENCY = os.environ.get(
    "COUPONRY_TEST_POSTGRES_URL", PG_URL or "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that only make sense on PostgreSQL (several server processes on one database) run in the
    PostgreSQL pass of the suite, not again in the SQLite pass."""
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="runs in the PostgreSQL pass (COUPONRY_TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# Several checkouts of the project (git worktrees) may run their suites at once against one PostgreSQL:
# each names its databases after its own path as well as the xdist worker.
_CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:6]


def _worker() -> str:
    return f"{_CHECKOUT}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _fresh_postgres_database(base_url: str, name: str) -> str:
    """Create (or recreate) database `name` beside the one in `base_url` and return its URL."""
    admin = create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for this test session (per xdist worker)."""
    if PG_URL:
        url = _fresh_postgres_database(PG_URL, f"couponry_test_{_worker()}")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    return url


@pytest.fixture
def db_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty, migrated database, private to this test."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "couponry.db"
        shutil.copy(database_url.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    engine = create_engine(normalize_url(database_url))
    with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()
    yield database_url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=5)
    yield database
    database.dispose()


@pytest.fixture
def postgres_url() -> str:
    """A fresh PostgreSQL database for tests that only make sense there (several server processes)."""
    try:
        return _fresh_postgres_database(POSTGRES_FOR_CONCURRENCY, f"couponry_conc_{_worker()}")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL not reachable: {exc}")


@pytest.fixture(scope="module")
def module_db_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """A migrated database shared by one test module (for a server started once per module)."""
    if database_url.startswith("sqlite"):
        path = tmp_path_factory.mktemp("module") / "couponry.db"
        shutil.copy(database_url.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    name = f"couponry_m_{_worker()}_{abs(hash(request.module.__name__)) % 10**8}"
    url = _fresh_postgres_database(PG_URL, name)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    return url
