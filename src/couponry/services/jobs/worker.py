"""The in-process background worker: runs queued jobs, releases expired holds, forgets old
idempotency keys, and ticks the scheduled jobs (services/scheduling).

Every server process runs one; the database decides which process takes which job (jobs.claim_next)
and which process releases which hold (reservations.expire_holds), so running several is safe. A job
whose process dies is taken over by another process's worker once its lease runs out; a worker that is
stopped hands its job back to the queue after the batch it is storing.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from couponry.adapters.db.engine import Database
from couponry.services.checkout.idempotency import purge_expired
from couponry.services.checkout.reservations import expire_holds
from couponry.services.ids import utcnow
from couponry.services.jobs import jobs
from couponry.services.scheduling.scheduler import Ticker

log = logging.getLogger("couponry.worker")


class BackgroundWorker:
    def __init__(
        self,
        db: Database,
        *,
        poll_seconds: float,
        sweep_seconds: float,
        idempotency_retention: timedelta,
        job_lease: timedelta = jobs.DEFAULT_LEASE,
        scheduler: Ticker | None = None,
        scheduler_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.job_lease = job_lease
        self.scheduler, self.scheduler_seconds = scheduler, scheduler_seconds
        self.idempotency_retention = idempotency_retention
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="couponry-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        next_sweep = next_tick = 0.0
        while not self._stop.is_set():
            # scheduled jobs (outbox delivery, daily mails ...): the run rows decide which process runs what
            if self.scheduler is not None and time.monotonic() >= next_tick:
                try:
                    self.scheduler.tick(utcnow())
                except Exception:
                    log.exception("scheduler tick failed")
                next_tick = time.monotonic() + self.scheduler_seconds
            try:
                if time.monotonic() >= next_sweep:
                    released = expire_holds(self.db, utcnow())
                    if released:
                        log.info("released expired holds", extra={"released": released})
                    purge_expired(self.db, utcnow() - self.idempotency_retention)
                    next_sweep = time.monotonic() + self.sweep_seconds
                job = jobs.claim_next(self.db, utcnow(), self.job_lease)
                if job is not None:
                    jobs.run(self.db, job, lease=self.job_lease, stop=self._stop)
                    continue
            except Exception:  # keep the worker alive through a database hiccup
                log.exception("background worker iteration failed")
            self._stop.wait(self.poll_seconds)
