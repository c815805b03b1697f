"""A bulk code job survives the death of the server running it: kill -9 mid-job, start another server,
and the job finishes with exactly its total of codes (SQLite and PostgreSQL, per the suite's pass)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import coupons, jobs
from tests.e2e.builders import campaign
from tests.serving import create_key, running_server

TOTAL = 600_000  # 12 batches of 50,000: long enough to be killed in the middle
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


def test_a_job_whose_server_is_killed_is_finished_by_the_next_server_with_exactly_its_total(
    db_url: str,
) -> None:
    key = create_key(db_url, "admin")
    db = Database(db_url, pool_size=1)
    try:
        # given a server killed (SIGKILL) while its job had stored some batches but not all
        with running_server(db_url, **FAST_TAKEOVER) as first, first.client(key) as client:
            created = campaign(client)
            job = client.post(f"/v1/campaigns/{created['id']}/coupons", json={"count": TOTAL}).json()
            _poll(client, job["id"], lambda j: j["done"] >= 100_000, timeout=120)
            first.process.kill()
            first.process.wait()
        with db.read() as conn:
            killed = conn.execute(select(jobs).where(jobs.c.id == job["id"])).one()
        before = _codes(db, created["id"])
        # when another server starts
        with running_server(db_url, **FAST_TAKEOVER) as second, second.client(key) as client:
            finished = _poll(client, job["id"], lambda j: j["status"] not in ("queued", "running"), 300)
        with db.read() as conn:
            attempts = conn.execute(select(jobs.c.attempts).where(jobs.c.id == job["id"])).scalar_one()
            stored, distinct = conn.execute(
                select(func.count(), func.count(func.distinct(coupons.c.display_code))).where(
                    coupons.c.campaign_id == created["id"]
                )
            ).one()
        after = _codes(db, created["id"])
    finally:
        db.dispose()
    # then the job was cut in the middle, with its progress equal to the codes it had stored
    assert killed.status == "running" and 0 < killed.done < TOTAL
    assert len(before) == killed.done
    # and the second server continued it: the codes stored before stayed, no more and no fewer were added
    assert (finished["status"], finished["done"], finished["total"]) == ("succeeded", TOTAL, TOTAL)
    assert attempts == 2
    assert before <= after and stored == distinct == len(after) == TOTAL
