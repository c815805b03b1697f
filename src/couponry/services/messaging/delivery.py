"""The scheduled job that empties the outbox: webhook events first (cheap), then mails."""

from __future__ import annotations

from couponry.services.messaging.mail_delivery import deliver_mail
from couponry.services.messaging.webhook_delivery import deliver_webhooks
from couponry.services.scheduling.scheduler import JobContext


def deliver_outbox(ctx: JobContext) -> None:
    deliver_webhooks(ctx.db, ctx.settings, ctx.now)
    deliver_mail(ctx.db, ctx.settings, ctx.now)
