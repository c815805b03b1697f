"""Periodic jobs that several processes can tick at once: each (job, period) runs exactly once.

A job has a name and a period (every 5 seconds, every day ...). Ticking at time T computes each job's
current period start and tries to INSERT the run row (job, scheduled_for); the primary key lets one
inserter win, whatever the number of processes, and a second tick in the same period finds the row and
does nothing. Claiming is its own short transaction, so the job's work never holds a lock on the row.

A run whose process died stays `running`; after `stale_after` another tick takes it over with a
conditional UPDATE (one winner again). A failed run is retried by a later tick of the same period, no
sooner than `retry_after`. Jobs must therefore be idempotent within their period (dedupe keys, unique
constraints): the run row makes a second run rare, the job's own keys make it harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import scheduled_runs
from couponry.settings import Settings

log = logging.getLogger("couponry.scheduler")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAILY = timedelta(days=1)


@dataclass(frozen=True)
class JobContext:
    """What a job receives: the database, the settings, the time it runs at, the period it covers."""

    db: Database
    settings: Settings
    now: datetime
    scheduled_for: datetime


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: Callable[[JobContext], object]
    offset: timedelta = timedelta(0)  # e.g. 9 h: a daily job's period starts at 09:00 UTC
    stale_after: timedelta = timedelta(minutes=30)
    retry_after: timedelta = timedelta(minutes=1)

    def period_start(self, now: datetime) -> datetime:
        """The start of the period `now` falls in (periods are aligned on the Unix epoch plus offset)."""
        since = now - EPOCH - self.offset
        return EPOCH + self.offset + self.every * (since // self.every)


@dataclass
class Registry:
    """The jobs a process ticks. Capabilities add theirs with one call (see catalog.default_registry)."""

    jobs: dict[str, ScheduledJob] = field(default_factory=dict)

    def add(
        self,
        name: str,
        every: timedelta,
        run: Callable[[JobContext], object],
        *,
        offset: timedelta = timedelta(0),
        stale_after: timedelta = timedelta(minutes=30),
    ) -> ScheduledJob:
        if name in self.jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        if every <= timedelta(0):
            raise ValueError("a job's period must be positive")
        job = ScheduledJob(name, every, run, offset, stale_after, min(timedelta(minutes=1), every))
        self.jobs[name] = job
        return job

    def __iter__(self) -> Iterator[ScheduledJob]:
        return iter(self.jobs.values())


@dataclass(frozen=True)
class RunOutcome:
    job: str
    scheduled_for: datetime
    status: str  # succeeded | failed | skipped (another tick ran or is running this period)
    error: str | None = None


def claim(db: Database, job: ScheduledJob, period: datetime, now: datetime) -> int | None:
    """The attempt number if this caller runs `job` for `period` (it inserted the run row, or took over
    a stale or failed one), else None. Committed before the job starts."""
    with db.write() as conn:
        row = {"job": job.name, "scheduled_for": period, "status": "running", "started_at": now}
        if insert_ignoring_conflicts(conn, scheduled_runs, row):
            return 1
        c = scheduled_runs.c
        taken = conn.execute(
            update(scheduled_runs)
            .where(
                c.job == job.name,
                c.scheduled_for == period,
                ((c.status == "running") & (c.started_at < now - job.stale_after))
                | ((c.status == "failed") & (c.finished_at < now - job.retry_after)),
            )
            .values(status="running", started_at=now, finished_at=None, attempts=c.attempts + 1)
            .returning(c.attempts)
        ).scalar_one_or_none()
        return taken


def _finish(
    db: Database, job: ScheduledJob, period: datetime, attempt: int, outcome: dict[str, object]
) -> None:
    """Record how the run ended, unless another process took the run over meanwhile (it thought this
    one dead): then its outcome is the one that counts."""
    c = scheduled_runs.c
    with db.write() as conn:
        conn.execute(
            update(scheduled_runs)
            .where(c.job == job.name, c.scheduled_for == period, c.attempts == attempt)
            .values(**outcome)
        )


def _later(now: datetime, started: float) -> datetime:
    """`now` plus the time the job took: finish times stay on the clock the tick was given (--now)."""
    return now + timedelta(seconds=time.monotonic() - started)


def run_job(db: Database, settings: Settings, job: ScheduledJob, now: datetime) -> RunOutcome:
    period = job.period_start(now)
    attempt = claim(db, job, period, now)
    if attempt is None:
        return RunOutcome(job.name, period, "skipped")
    started = time.monotonic()
    try:
        job.run(JobContext(db, settings, now, period))
    except Exception as exc:  # recorded on the run row; a later tick of the period retries
        log.exception("scheduled job %s failed", job.name)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        _finish(
            db,
            job,
            period,
            attempt,
            {"status": "failed", "finished_at": _later(now, started), "error": error},
        )
        return RunOutcome(job.name, period, "failed", error)
    _finish(
        db, job, period, attempt, {"status": "succeeded", "finished_at": _later(now, started), "error": None}
    )
    return RunOutcome(job.name, period, "succeeded")


def run_due(
    db: Database, settings: Settings, registry: Registry, now: datetime, only: set[str] | None = None
) -> list[RunOutcome]:
    """Run every job whose current period has not run yet (as of `now`)."""
    return [run_job(db, settings, job, now) for job in registry if only is None or job.name in only]


def purge_runs(db: Database, before: datetime) -> int:
    """Forget finished run rows of periods that started before `before`."""
    with db.write() as conn:
        return conn.execute(
            delete(scheduled_runs).where(
                scheduled_runs.c.scheduled_for < before, scheduled_runs.c.status != "running"
            )
        ).rowcount


class Ticker:
    """The in-process scheduler of `couponry serve` (the background worker calls `tick` every second or
    so). It skips, without touching the database, a job whose current period it already ran, and looks
    again only now and then at a period another process is running or a run that failed."""

    def __init__(self, db: Database, settings: Settings, registry: Registry) -> None:
        self.db, self.settings, self.registry = db, settings, registry
        self._done: dict[str, datetime] = {}  # job -> the period this process saw finish
        self._recheck: dict[str, float] = {}  # job -> when to look at a period run elsewhere again

    def tick(self, now: datetime) -> list[RunOutcome]:
        outcomes = []
        for job in self.registry:
            period = job.period_start(now)
            if self._done.get(job.name) == period or time.monotonic() < self._recheck.get(job.name, 0.0):
                continue
            outcome = run_job(self.db, self.settings, job, now)
            if outcome.status == "succeeded":
                self._done[job.name] = period
            else:  # run elsewhere (it may die and need taking over) or failed here: look again later
                self._recheck[job.name] = time.monotonic() + min(job.every, job.retry_after).total_seconds()
            outcomes.append(outcome)
        return outcomes
