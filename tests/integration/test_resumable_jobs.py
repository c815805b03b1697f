"""A bulk code job survives its worker: progress is committed with each batch under a fenced lease, and
another worker continues from there (real database; the real kill is in tests/e2e/test_job_resume.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import coupons as coupons_table
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.ids import utcnow
from couponry.services.jobs import jobs

LEASE = timedelta(seconds=30)


def _job(db: Database, count: int) -> tuple[str, str]:
    now = utcnow()
    spec = {
        "name": "bulk",
        "currency": "USD",
        "issuer": {"type": "platform"},
        "discount": {"type": "amount", "amount": 500},
        "scope": {},
        "conditions": {},
        "validity": {},
        "limits": {},
        "stacking": "order",
        "code_config": {"length": 12},
        "status": "active",
    }
    campaign_id = campaigns.create_campaign(db, SYSTEM, spec, now)["id"]
    status, job = coupons.issue_codes(
        db, SYSTEM, campaign_id, codes=None, count=count, customer_id=None, now=now
    )
    assert status == 202
    return campaign_id, job["id"]


def _stored(db: Database, campaign_id: str) -> int:
    with db.read() as conn:
        return conn.execute(
            select(func.count()).select_from(coupons_table).where(coupons_table.c.campaign_id == campaign_id)
        ).scalar_one()


def _state(db: Database, job_id: str) -> dict[str, Any]:
    return jobs.get_job(db, SYSTEM, job_id)


class StopAfterBatches(threading.Event):
    """A stop signal that a worker finds set once it has stored `n` batches (as when its server stops)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left <= 0


def test_a_stopped_worker_hands_its_job_back_and_the_next_one_continues_to_exactly_the_total(
    db: Database,
) -> None:
    # given a worker stopped after storing two batches of 1,000
    campaign_id, job_id = _job(db, 4500)
    first = jobs.claim_next(db, utcnow(), LEASE)
    jobs.run(db, first, lease=LEASE, stop=StopAfterBatches(2), batch_size=1000)
    handed_back = _state(db, job_id)
    # when another worker claims it and runs it to the end
    second = jobs.claim_next(db, utcnow(), LEASE)
    jobs.run(db, second, lease=LEASE, batch_size=1000)
    # then the first two batches stayed, and the job stored exactly its total
    assert (handed_back["status"], handed_back["done"]) == ("queued", 2000)
    assert _stored(db, campaign_id) == 4500
    done = _state(db, job_id)
    assert (done["status"], done["done"], done["total"]) == ("succeeded", 4500, 4500)
    assert second.id == job_id and second.started_at == first.started_at
    assert second.attempts == 1  # a job handed back in good order was not interrupted


def test_a_job_whose_lease_ran_out_is_taken_over_and_its_first_worker_can_no_longer_write(
    db: Database,
) -> None:
    # given a worker that claimed a job and then stalled past its lease
    campaign_id, job_id = _job(db, 3000)
    now = utcnow()
    stalled = jobs.claim_next(db, now, LEASE)
    # when another worker looks for work before and after the lease ran out
    too_early = jobs.claim_next(db, now + LEASE - timedelta(seconds=1), LEASE)
    taker = jobs.claim_next(db, now + LEASE + timedelta(seconds=1), LEASE)
    jobs.run(db, stalled, lease=LEASE, batch_size=1000)  # the stalled worker wakes up
    after_stalled = _state(db, job_id)
    jobs.run(db, taker, lease=LEASE, batch_size=1000)
    # then the stalled worker's batch was refused whole and it left the job to the taker
    assert too_early is None and taker.id == job_id
    assert taker.lease_owner != stalled.lease_owner
    assert (after_stalled["status"], after_stalled["done"]) == ("running", 0)
    assert _stored(db, campaign_id) == 3000
    assert (_state(db, job_id)["status"], _state(db, job_id)["done"]) == ("succeeded", 3000)


def test_a_job_interrupted_too_often_is_marked_failed_instead_of_retried_for_ever(db: Database) -> None:
    # given a job whose workers all died before finishing it
    _, job_id = _job(db, 2000)
    now = utcnow()
    for attempt in range(jobs.MAX_ATTEMPTS):
        assert jobs.claim_next(db, now + attempt * (LEASE + timedelta(seconds=1)), LEASE) is not None
    # when its last lease runs out
    later = now + jobs.MAX_ATTEMPTS * (LEASE + timedelta(seconds=1))
    claimed = jobs.claim_next(db, later, LEASE)
    # then
    failed = _state(db, job_id)
    assert claimed is None
    assert failed["status"] == "failed" and f"{jobs.MAX_ATTEMPTS} times" in failed["error"]
