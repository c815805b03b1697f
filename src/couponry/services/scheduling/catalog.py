"""Every scheduled job of Couponry, in one list. A capability adds its job here with one call:

    registry.add("loyalty.monthly_statement", DAILY, monthly_statement_job, offset=timedelta(hours=8))

A job is a function of a JobContext (db, settings, now, scheduled_for); it runs once per period across
every process (see scheduler), and must be idempotent within its period (dedupe keys).
"""

from __future__ import annotations

from datetime import timedelta

from couponry.services.scheduling.scheduler import DAILY, JobContext, Registry, purge_runs

OUTBOX_EVERY = timedelta(seconds=5)
MEASURING_EVERY = timedelta(minutes=1)
RUNS_KEPT = timedelta(days=7)  # past periods never run again; the rows are only history


def _purge_runs(ctx: JobContext) -> None:
    purge_runs(ctx.db, ctx.now - RUNS_KEPT)


def default_registry() -> Registry:
    from couponry.services.distribution.triggers import daily_triggers_job
    from couponry.services.loyalty.jobs import expire_job, mature_job, statement_job
    from couponry.services.messaging.delivery import deliver_outbox, purge_outbox_job
    from couponry.services.messaging.mails import expiry_reminders_job
    from couponry.services.reporting.rollups import fold_job

    registry = Registry()  # a tick runs jobs in this order: what queues messages comes before delivery
    # 09:00 UTC: reminders arrive in the morning in Europe, not at midnight
    registry.add("mail.expiry_reminders", DAILY, expiry_reminders_job, offset=timedelta(hours=9))
    # 08:00 UTC: birthdays, anniversaries and second new-user packages (their mails go out at once)
    registry.add("triggers.daily", DAILY, daily_triggers_job, offset=timedelta(hours=8))
    # loyalty: pending points mature within the quarter hour they are due; expiry runs daily (01:00 UTC)
    # after maturing; last month's statements are queued from the 1st, 07:00 UTC
    registry.add("loyalty.mature", timedelta(minutes=15), mature_job)
    registry.add("loyalty.expire", DAILY, expire_job, offset=timedelta(hours=1))
    registry.add("loyalty.monthly_statement", DAILY, statement_job, offset=timedelta(hours=7))
    registry.add("scheduler.purge_runs", DAILY, _purge_runs, offset=timedelta(hours=3))
    registry.add("outbox.purge", DAILY, purge_outbox_job, offset=timedelta(hours=3))
    registry.add("outbox.deliver", OUTBOX_EVERY, deliver_outbox)
    registry.add("measuring.fold", MEASURING_EVERY, fold_job)  # roll-ups: redemptions into daily figures
    return registry
