"""The scheduled jobs of the outbox: delivering it (webhook events first, then mails), and forgetting
what was settled long ago.

Each delivery pass is bounded (about 10 s for webhooks, 10 s for mail) so the in-process worker that
runs it also keeps releasing expired holds on time; what is left waits for the next period (5 s).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import outbox, webhook_deliveries
from couponry.services.messaging.mail_delivery import deliver_mail
from couponry.services.messaging.webhook_delivery import deliver_webhooks
from couponry.services.scheduling.scheduler import JobContext


def deliver_outbox(ctx: JobContext) -> None:
    deliver_webhooks(ctx.db, ctx.settings, ctx.now, budget_seconds=10.0)
    deliver_mail(ctx.db, ctx.settings, ctx.now, budget_seconds=10.0)


def purge_outbox(db: Database, before: datetime) -> int:
    """Delete settled messages created before `before` (and their webhook deliveries).

    Their dedupe keys go with them, so `before` must lie past any period in which the same key could be
    queued again (reminders are keyed per coupon, birthdays per year, statements per month): the default
    retention of 90 days is far past all of these."""
    with db.write() as conn:
        gone = conn.execute(
            delete(webhook_deliveries).where(
                webhook_deliveries.c.created_at < before,
                webhook_deliveries.c.status.in_(("delivered", "failed", "cancelled")),
            )
        ).rowcount
        gone += conn.execute(
            delete(outbox).where(
                outbox.c.created_at < before,
                outbox.c.status.in_(("delivered", "skipped", "failed", "dispatched")),
            )
        ).rowcount
    return gone


def purge_outbox_job(ctx: JobContext) -> None:
    purge_outbox(ctx.db, ctx.now - timedelta(days=ctx.settings.outbox_retention_days))
