from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.serving import Server, create_key, running_server

# Small thresholds so throttling and hold expiry can be seen within a test's time.
E2E_SETTINGS = {
    "COUPONRY_THROTTLE_SLOW_AFTER": "3",
    "COUPONRY_THROTTLE_BLOCK_AFTER": "6",
    "COUPONRY_THROTTLE_WINDOW_SECONDS": "3600",  # a window edge inside a test would reset its count
    "COUPONRY_SWEEP_INTERVAL_SECONDS": "0.5",
    "COUPONRY_JOB_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    """The real server (one process), started once per test module on the module's own database.
    Tests in a module share it, so each creates its own campaigns and codes."""
    with running_server(module_db_url, **E2E_SETTINGS) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin_key(server: Server) -> str:
    return create_key(server.database_url, "admin")


@pytest.fixture
def admin(server: Server, admin_key: str) -> Iterator[httpx.Client]:
    with server.client(admin_key) as client:
        yield client
