"""A bulk code job survives the server running it: killed (SIGKILL) or stopped (SIGTERM) mid-job, another
server finishes it with exactly its total of codes (SQLite and PostgreSQL, per the suite's pass)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import coupons, jobs
from tests.e2e.builders import campaign
from tests.serving import create_key, running_server

TOTAL = 300_000  # 6 batches of 50,000: long enough to be stopped in the middle
FAST_TAKEOVER = {"COUPONRY_JOB_LEASE_SECONDS": "2", "COUPONRY_JOB_POLL_SECONDS": "0.2"}


def _poll(client: httpx.Client, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if until(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def _codes(db: Database, campaign_id: str) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(coupons.c.code).where(coupons.c.campaign_id == campaign_id)).scalars())


@pytest.mark.parametrize(
    ("stop", "state_left", "attempts"),
    [("kill", "running", 2), ("terminate", "queued", 1)],
    ids=["killed", "stopped"],
)
def test_a_job_whose_server_goes_away_mid_job_is_finished_by_the_next_server_with_exactly_its_total(
    db_url: str, stop: str, state_left: str, attempts: int
) -> None:
    key = create_key(db_url, "admin")
    db = Database(db_url, pool_size=1)
    try:
        # given a server that went away while its job had stored some batches but not all: killed, the
        # job is left running until its lease runs out; stopped, it hands the job back to the queue
        with running_server(db_url, **FAST_TAKEOVER) as first, first.client(key) as client:
            created = campaign(client)
            job = client.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": TOTAL}).json()
            _poll(client, job["id"], lambda j: j["done"] >= 50_000, timeout=120)
            getattr(first.process, stop)()
            first.process.wait(30)
        with db.read() as conn:
            killed = conn.execute(select(jobs).where(jobs.c.id == job["id"])).one()
        before = _codes(db, created["id"])
        # when another server starts
        with running_server(db_url, **FAST_TAKEOVER) as second, second.client(key) as client:
            finished = _poll(client, job["id"], lambda j: j["status"] not in ("queued", "running"), 300)
        with db.read() as conn:
            tries = conn.execute(select(jobs.c.attempts).where(jobs.c.id == job["id"])).scalar_one()
            stored, distinct = conn.execute(
                select(func.count(), func.count(func.distinct(coupons.c.display_code))).where(
                    coupons.c.campaign_id == created["id"]
                )
            ).one()
        after = _codes(db, created["id"])
    finally:
        db.dispose()
    # then the job was cut in the middle, with its progress equal to the codes it had stored
    assert killed.status == state_left and 0 < killed.done < TOTAL
    assert len(before) == killed.done
    # and the second server continued it: the codes stored before stayed, no more and no fewer were added
    assert (finished["status"], finished["done"], finished["total"]) == ("succeeded", TOTAL, TOTAL)
    assert tries == attempts
    assert before <= after and stored == distinct == len(after) == TOTAL
