"""Scheduled jobs run once per period, whatever the number of processes ticking (real database, CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import scheduled_runs
from couponry.services.scheduling.scheduler import DAILY, JobContext, Registry, Ticker, run_due
from couponry.settings import Settings

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _counting_registry(calls: list[tuple[str, datetime]], fail: set[str] | None = None) -> Registry:
    def job(name: str):  # noqa: ANN202
        def run(ctx: JobContext) -> None:
            calls.append((name, ctx.scheduled_for))
            if fail and name in fail:
                raise RuntimeError("boom")

        return run

    registry = Registry()
    registry.add("daily", DAILY, job("daily"), offset=timedelta(hours=9))
    registry.add("often", timedelta(seconds=5), job("often"))
    return registry


def test_a_daily_job_covers_the_period_since_its_offset() -> None:
    registry = _counting_registry([])
    daily = registry.jobs["daily"]
    assert daily.period_start(T0) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert daily.period_start(datetime(2026, 11, 26, 8, 59, tzinfo=UTC)) == datetime(
        2026, 11, 25, 9, tzinfo=UTC
    )
    assert registry.jobs["often"].period_start(T0 + timedelta(seconds=7)) == T0 + timedelta(seconds=5)


def test_a_second_tick_in_the_same_period_runs_nothing(db: Database) -> None:
    calls: list[tuple[str, datetime]] = []
    registry = _counting_registry(calls)
    first = run_due(db, Settings(), registry, T0)
    again = run_due(db, Settings(), registry, T0 + timedelta(hours=3))
    next_day = run_due(db, Settings(), registry, T0 + timedelta(days=1))
    assert [o.status for o in first] == ["succeeded", "succeeded"]
    assert [o.status for o in again] == ["skipped", "succeeded"]  # the 5-second job is in a new period
    assert [o.status for o in next_day] == ["succeeded", "succeeded"]
    assert [c for c in calls if c[0] == "daily"] == [
        ("daily", datetime(2026, 11, 26, 9, tzinfo=UTC)),
        ("daily", datetime(2026, 11, 27, 9, tzinfo=UTC)),
    ]


def test_a_failed_run_is_recorded_and_retried_by_a_later_tick_of_its_period(db: Database) -> None:
    calls: list[tuple[str, datetime]] = []
    first = run_due(db, Settings(), _counting_registry(calls, fail={"daily"}), T0, only={"daily"})
    too_soon = run_due(db, Settings(), _counting_registry(calls), T0 + timedelta(seconds=30), only={"daily"})
    later = run_due(db, Settings(), _counting_registry(calls), T0 + timedelta(minutes=5), only={"daily"})
    assert [o.status for o in first + too_soon + later] == ["failed", "skipped", "succeeded"]
    assert first[0].error == "RuntimeError: boom"
    with db.read() as conn:
        run = conn.execute(select(scheduled_runs).where(scheduled_runs.c.job == "daily")).one()
    assert (run.status, run.attempts, run.error) == ("succeeded", 2, None)


def test_a_run_whose_process_died_is_taken_over_once_it_is_stale(db: Database) -> None:
    calls: list[tuple[str, datetime]] = []
    registry = _counting_registry(calls)
    period = registry.jobs["daily"].period_start(T0)
    with db.write() as conn:  # a process claimed the day's run and died
        conn.execute(
            scheduled_runs.insert().values(job="daily", scheduled_for=period, status="running", started_at=T0)
        )
    assert (
        run_due(db, Settings(), registry, T0 + timedelta(minutes=10), only={"daily"})[0].status == "skipped"
    )
    assert (
        run_due(db, Settings(), registry, T0 + timedelta(minutes=31), only={"daily"})[0].status == "succeeded"
    )
    assert calls == [("daily", period)]


def test_the_in_process_ticker_does_not_ask_the_database_again_for_a_period_it_ran(db: Database) -> None:
    calls: list[tuple[str, datetime]] = []
    ticker = Ticker(db, Settings(), _counting_registry(calls))
    ran = ticker.tick(T0)
    again = ticker.tick(T0 + timedelta(seconds=1))
    assert [o.status for o in ran] == ["succeeded", "succeeded"]
    assert again == []  # nothing due: no query was made


def _tick(db_url: str, now: str) -> subprocess.Popen:
    env = {**os.environ, "COUPONRY_DATABASE_URL": db_url, "COUPONRY_SMTP_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "couponry.cli", "tick", "--now", now],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_four_processes_ticking_at_once_run_each_due_job_once(db_url: str) -> None:
    # when four `couponry tick` processes start together for the same moment
    processes = [_tick(db_url, "2026-11-26T10:00:00Z") for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    lines = [line.split() for out, _ in outputs for line in out.splitlines()]
    # then each job succeeded in exactly one of them and was skipped by the three others
    for job in (
        "mail.expiry_reminders",
        "triggers.daily",
        "scheduler.purge_runs",
        "outbox.purge",
        "outbox.deliver",
        "measuring.fold",
        "loyalty.mature",
        "loyalty.expire",
    ):
        statuses = sorted(status for status, name, *_ in lines if name == job)
        assert statuses == ["skipped", "skipped", "skipped", "succeeded"], job
    # and a later tick the same day runs only the frequent job
    out, err = _tick(db_url, "2026-11-26T18:00:00+00:00").communicate(timeout=60)
    assert {line.split()[1]: line.split()[0] for line in out.splitlines()} == {
        "mail.expiry_reminders": "skipped",
        "triggers.daily": "skipped",
        "scheduler.purge_runs": "skipped",
        "outbox.purge": "skipped",
        "outbox.deliver": "succeeded",
        "measuring.fold": "succeeded",  # every minute too: the roll-ups
        "loyalty.mature": "succeeded",  # every 15 minutes: points past their return window
        "loyalty.expire": "skipped",  # daily
        "loyalty.monthly_statement": "skipped",  # monthly
    }


def test_tick_refuses_a_time_without_an_offset(db_url: str) -> None:
    out, err = _tick(db_url, "2026-11-26T10:00:00").communicate(timeout=60)
    assert "offset" in err
