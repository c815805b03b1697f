"""A bounded schemathesis run against the live server's own /openapi.json, with an admin key: what a fuzzer
finds is found here before a change lands.

Checks: no 5xx (not_a_server_error), only documented content types (content_type_conformance), invalid
input refused (negative_data_rejection); no request may take longer than REQUEST_TIMEOUT. Two
concurrent runs (reads; writes and the rest), like the two workers of the run that found the defects
of issue 9. It runs in the SQLite pass only: the document and
the validation are the same on PostgreSQL, and one run of about a minute is the budget.

Reproduce a failure with the printed curl command, or run the same by hand:
    st run http://127.0.0.1:PORT/openapi.json -H "Authorization: Bearer KEY" --checks ... --seed SEED
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.serving import Server, create_key, running_server

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(bool(PG_URL), reason="the fuzz run is part of the SQLite pass"),
]

CHECKS = "not_a_server_error,content_type_conformance,negative_data_rejection"
MAX_EXAMPLES = os.environ.get("COUPONRY_FUZZ_MAX_EXAMPLES", "10")
SEED = os.environ.get("COUPONRY_FUZZ_SEED", "20261126")  # fixed: a red run is reproducible
REQUEST_TIMEOUT = "10"

FUZZ_SETTINGS = {
    # Throttling would slow the run to a crawl (the fuzzer looks up many unknown codes); it has tests of
    # its own. Bulk jobs the fuzzer enqueues (up to 100,000,000 codes) are left queued: running them is a
    # benchmark, not a fuzz case.
    "COUPONRY_THROTTLE_SLOW_AFTER": "1000000",
    "COUPONRY_THROTTLE_BLOCK_AFTER": "1000001",
    "COUPONRY_RUN_BACKGROUND_WORKERS": "false",
}


@pytest.fixture(scope="module")
def fuzz_server(module_db_url: str) -> Iterator[Server]:
    with running_server(module_db_url, **FUZZ_SETTINGS) as srv:
        yield srv


def test_the_fuzzer_finds_no_server_error_undocumented_content_type_or_accepted_invalid_input(
    fuzz_server: Server, tmp_path: Path
) -> None:
    key = create_key(fuzz_server.database_url, "admin")
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{fuzz_server.base}/openapi.json"),
        *("--header", f"Authorization: Bearer {key}"),
        *("--checks", CHECKS),
        *("--workers", "1"),
        *("--max-examples", MAX_EXAMPLES),
        *("--seed", SEED),
        *("--request-timeout", REQUEST_TIMEOUT),
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    # Two processes at once (reads, and everything else), one thread each: the server still meets
    # concurrent requests, and no two threads of one interpreter parse source at the same time (CPython
    # 3.11's `ast.parse` is not thread-safe: Hypothesis describing a strategy from two worker threads
    # failed inside the tool with "AST constructor recursion depth mismatch").
    halves = [
        subprocess.Popen(
            [*command, *split],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(tmp_path),
            env=env,
        )  # fmt: skip
        for split in (("--include-method", "GET"), ("--exclude-method", "GET"))
    ]
    for half in halves:
        stdout, stderr = half.communicate(timeout=600)
        report = stdout[-20_000:] + stderr[-5_000:]
        assert half.returncode == 0, f"schemathesis found problems (exit {half.returncode}):\n{report}"
