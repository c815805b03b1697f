"""Background jobs (bulk code generation): queued in the database, claimed by any server process.

`claim_next` hands each queued job to exactly one worker (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite
serializes writers). Progress is written as the job goes, so `GET /v1/jobs/{id}` shows done/total.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, jobs
from couponry.domain.codes import CodeConfig
from couponry.domain.errors import NotFound
from couponry.services.access.actors import Actor, Permission
from couponry.services.ids import new_id, utcnow

log = logging.getLogger("couponry.jobs")
STALE_AFTER = timedelta(minutes=10)


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


def claim_next(db: Database, now: datetime) -> Any | None:
    """Take the oldest queued job for this worker; give up on jobs whose worker stopped beating."""
    with db.write() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.status == "running", jobs.c.heartbeat_at < now - STALE_AFTER)
            .values(status="failed", finished_at=now, error="the worker running this job stopped")
        )
        job_id = conn.execute(
            select(jobs.c.id)
            .where(jobs.c.status == "queued")
            .order_by(jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if job_id is None:
            return None
        return conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now)
            .returning(*jobs.c)
        ).first()


def _progress(db: Database, job_id: str, done: int) -> None:
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(done=done, heartbeat_at=utcnow()))


def run(db: Database, job: Any) -> None:
    """Run one claimed job to the end, recording success or the error."""
    try:
        if job.kind == "generate_codes":
            _generate_codes(db, job)
        elif job.kind == "publish":
            from couponry.services.distribution.publications import run_publication

            run_publication(db, job)
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    except Exception as exc:  # a job's failure is recorded, never lost
        log.exception("job %s failed", job.id)
        with db.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id)
                .values(status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utcnow())
            )
        return
    with db.write() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(status="succeeded", done=job.total, finished_at=utcnow())
        )


def _generate_codes(db: Database, job: Any) -> None:
    from couponry.adapters.db.bulk_codes import store_generated_codes

    params = job.params
    with db.read() as conn:
        definition = conn.execute(
            select(campaigns.c.definition).where(campaigns.c.id == params["campaign_id"])
        ).scalar_one()
    store_generated_codes(
        db,
        params["campaign_id"],
        CodeConfig.from_dict(definition.get("code_config")),
        params["count"],
        customer_id=params.get("customer_id"),
        issued_at=utcnow(),
        on_progress=lambda done: _progress(db, job.id, done),
    )


def run_pending(db: Database) -> int:
    """Run queued jobs until none is left; returns how many ran (used by the worker and by tests)."""
    ran = 0
    while (job := claim_next(db, utcnow())) is not None:
        run(db, job)
        ran += 1
    return ran
