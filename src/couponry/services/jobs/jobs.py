"""Background jobs (bulk code generation): queued in the database, run by any server process, resumed by
another when the one running it dies.

A worker claims a job with a lease (`claim_next`: FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes
writers) and a fresh token. Every batch of codes it stores carries, in the same transaction, the job's
progress (`done`) and the renewal of its lease, fenced by the token: progress and stored codes cannot
disagree, and a worker whose lease was taken over (it was presumed dead) cannot write another code or
touch the job. A job whose lease ran out is claimed again and continues from `done`; one interrupted
MAX_ATTEMPTS times (its worker died each time) is marked failed rather than retried for ever. A worker
asked to stop (server shutdown) hands its job back to the queue after the batch it is storing; that
does not count as an interruption.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, literal, or_, select, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, jobs
from couponry.domain.codes import CodeConfig
from couponry.domain.errors import NotFound
from couponry.services.access.actors import Actor, Permission
from couponry.services.ids import new_id, utcnow

log = logging.getLogger("couponry.jobs")
DEFAULT_LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead): stop without touching it."""


class Interrupted(Exception):
    """The worker is stopping: hand the job back to the queue."""


def job_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "done": row.done,
        "total": row.total,
        "error": row.error,
        "params": row.params,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


def enqueue(
    conn: Connection, kind: str, params: dict[str, Any], *, total: int, now: datetime
) -> dict[str, Any]:
    job_id = new_id()
    conn.execute(
        insert(jobs).values(id=job_id, kind=kind, status="queued", params=params, total=total, created_at=now)
    )
    return job_body(conn.execute(select(jobs).where(jobs.c.id == job_id)).one())


def get_job(db: Database, actor: Actor, job_id: str) -> dict[str, Any]:
    actor.require(Permission.READ_JOBS)
    with db.read() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id}")
        if row.params.get("campaign_id") and actor.store_scope:
            store = conn.execute(
                select(campaigns.c.store_id).where(campaigns.c.id == row.params["campaign_id"])
            ).scalar_one_or_none()
            actor.require_store_access(store)
        return job_body(row)


def claim_next(db: Database, now: datetime, lease: timedelta = DEFAULT_LEASE) -> Any | None:
    """Take the oldest job that is queued or whose worker's lease ran out, under a new lease and token
    (the returned row's `lease_owner`); None when there is nothing to do."""
    with db.write() as conn:
        abandoned = and_(jobs.c.status == "running", jobs.c.lease_expires_at < now)
        conn.execute(
            update(jobs)
            .where(abandoned, jobs.c.attempts >= MAX_ATTEMPTS)
            .values(
                status="failed",
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
                error=f"its worker stopped {MAX_ATTEMPTS} times before it finished",
            )
        )
        claimable = or_(jobs.c.status == "queued", abandoned)
        job_id = conn.execute(
            select(jobs.c.id)
            .where(claimable)
            .order_by(jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if job_id is None:
            return None
        return conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, claimable)
            .values(
                status="running",
                started_at=func.coalesce(jobs.c.started_at, literal(now, jobs.c.started_at.type)),
                heartbeat_at=now,
                lease_owner=new_id(),
                lease_expires_at=now + lease,
                attempts=jobs.c.attempts + 1,
            )
            .returning(*jobs.c)
        ).first()


def _held(job: Any) -> Any:
    """The condition that the job is still this worker's: every write of a worker is fenced by it."""
    return and_(jobs.c.id == job.id, jobs.c.status == "running", jobs.c.lease_owner == job.lease_owner)


def _record_batch(conn: Connection, job: Any, stored: int, lease: timedelta) -> None:
    """In the batch's own transaction: count its codes and renew the lease, or roll it all back."""
    now = utcnow()
    renewed = conn.execute(
        update(jobs)
        .where(_held(job))
        .values(done=jobs.c.done + stored, heartbeat_at=now, lease_expires_at=now + lease)
    )
    if renewed.rowcount != 1:
        raise LeaseLost(job.id)


def record_progress(
    conn: Connection, job: Any, done: int, lease: timedelta, stop: threading.Event | None = None
) -> None:
    """For a job that walks its work from the start again when resumed (its writes are idempotent): set
    `done` and renew the lease in the batch's transaction, fenced like `_record_batch`. A stop request
    rolls the batch back and hands the job back to the queue."""
    if stop is not None and stop.is_set():
        raise Interrupted(job.id)
    now = utcnow()
    renewed = conn.execute(
        update(jobs).where(_held(job)).values(done=done, heartbeat_at=now, lease_expires_at=now + lease)
    )
    if renewed.rowcount != 1:
        raise LeaseLost(job.id)


def _finish(db: Database, job: Any, **values: Any) -> None:
    with db.write() as conn:
        ended = conn.execute(
            update(jobs).where(_held(job)).values(lease_owner=None, lease_expires_at=None, **values)
        )
    if ended.rowcount != 1:
        log.warning("job %s was taken over by another worker", job.id)


def run(
    db: Database,
    job: Any,
    *,
    lease: timedelta = DEFAULT_LEASE,
    stop: threading.Event | None = None,
    batch_size: int | None = None,  # the store's own choice per database (adapters/db/bulk_codes.py)
) -> None:
    """Run a claimed job from where it stands to the end, recording success or the error; hand it back to
    the queue if `stop` is set, and leave it alone if another worker took it over."""
    try:
        if job.kind == "generate_codes":
            _generate_codes(db, job, lease, stop, batch_size)
        elif job.kind == "publish":
            from couponry.services.distribution.publications import run_publication

            run_publication(db, job, lambda conn, done: record_progress(conn, job, done, lease, stop))
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    except LeaseLost:
        log.warning("job %s was taken over by another worker; this one stops", job.id)
    except Interrupted:  # handed back in good order: not an interruption that counts against the job
        _finish(db, job, status="queued", attempts=jobs.c.attempts - 1)
    except Exception as exc:  # a job's failure is recorded, never lost
        log.exception("job %s failed", job.id)
        _finish(db, job, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utcnow())
    else:
        _finish(db, job, status="succeeded", finished_at=utcnow())


def _generate_codes(
    db: Database, job: Any, lease: timedelta, stop: threading.Event | None, batch_size: int | None
) -> None:
    from couponry.adapters.db.bulk_codes import store_generated_codes

    params = job.params
    with db.read() as conn:
        definition = conn.execute(
            select(campaigns.c.definition).where(campaigns.c.id == params["campaign_id"])
        ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"campaign {params['campaign_id']} does not exist")

    def after_batch(_done: int) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted(job.id)

    store_generated_codes(
        db,
        params["campaign_id"],
        CodeConfig.from_dict(definition.get("code_config")),
        job.total - job.done,  # a resumed job continues from its last committed batch
        customer_id=params.get("customer_id"),
        issued_at=job.started_at,  # the first claim's time, the same for every code of the job
        in_batch=lambda conn, stored: _record_batch(conn, job, stored, lease),
        on_progress=after_batch,
        batch_size=batch_size,
    )


def run_pending(db: Database, lease: timedelta = DEFAULT_LEASE) -> int:
    """Run claimable jobs until none is left; returns how many ran (used by tests)."""
    ran = 0
    while (job := claim_next(db, utcnow(), lease)) is not None:
        run(db, job, lease=lease)
        ran += 1
    return ran
