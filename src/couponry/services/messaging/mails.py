"""The mails Couponry sends, queued in the caller's transaction, once each (dedupe keys).

Delivery (consent, SMTP, retries) is mail_delivery's; these only decide what to queue.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.outbox import enqueue_mail, enqueue_mails
from couponry.adapters.db.tables import campaigns, coupons, customers
from couponry.services.scheduling.scheduler import JobContext

PAGE = 1000


def queue_coupon_issued(conn: Connection, customer_id: str, code: str, now: datetime) -> bool:
    """Tell a customer about a coupon issued to them (once per code)."""
    return enqueue_mail(conn, customer_id, "coupon_issued", {"code": code}, now, f"coupon_issued:{code}")


def queue_birthday(
    conn: Connection, customer_id: str, day: date, now: datetime, code: str | None = None
) -> bool:
    """Birthday wishes, with the birthday coupon if there is one (once per customer and year)."""
    context: dict[str, Any] = {"birthday": day.isoformat()}
    if code:
        context["code"] = code
    return enqueue_mail(conn, customer_id, "birthday", context, now, f"birthday:{customer_id}:{day.year}")


def queue_points_statement(
    conn: Connection, customer_id: str, month: str, statement: dict[str, Any], now: datetime
) -> bool:
    """The monthly points statement (`month` as YYYY-MM; `statement`: available, pending, and optionally
    earned, spent, expiring_soon [{points, expires_at}]), once per customer and month."""
    context = {"month": month, **statement}
    return enqueue_mail(
        conn, customer_id, "points_statement", context, now, f"points_statement:{customer_id}:{month}"
    )


def _window(
    validity: dict[str, Any], now: datetime, days: int
) -> tuple[bool, datetime | None, datetime | None]:
    """For a campaign's validity, whether any coupon can end in (now, now + days], and if so the range
    of issue times (exclusive low, inclusive high; None = unbounded) whose coupons do.

    A coupon ends at min(ends_at, issued_at + days_after_issue), whichever of the two is set."""
    horizon = now + timedelta(days=days)
    ends = datetime.fromisoformat(validity["ends_at"]) if validity.get("ends_at") else None
    starts = datetime.fromisoformat(validity["starts_at"]) if validity.get("starts_at") else None
    relative = validity.get("days_after_issue")
    if (starts is not None and starts > now) or (ends is not None and ends <= now):
        return False, None, None
    if not relative:
        return ends is not None and ends <= horizon, None, None
    span = timedelta(days=relative)
    if ends is not None and ends <= horizon:  # every coupon still running ends by the horizon
        return True, now - span, None
    return True, now - span, horizon - span


def queue_expiry_reminders(db: Database, now: datetime, days: int) -> int:
    """Queue one `expiring_soon` mail per personal coupon of an active campaign that ends within `days`
    days, issued to a customer who consents, and not used up. Once per coupon: a second run (the same
    day or the next) queues nothing new for it. Returns how many were queued."""
    queued = 0
    with db.read() as conn:
        active = conn.execute(
            select(campaigns.c.id, campaigns.c.definition, campaigns.c.per_coupon).where(
                campaigns.c.status == "active"
            )
        ).all()
    for campaign in active:
        due, after, until = _window(campaign.definition.get("validity") or {}, now, days)
        if not due:
            continue
        last_code = ""
        while True:
            query = (
                select(coupons.c.code, coupons.c.display_code, coupons.c.customer_id)
                .join(customers, customers.c.id == coupons.c.customer_id)
                .where(
                    coupons.c.campaign_id == campaign.id,
                    coupons.c.customer_id.is_not(None),
                    coupons.c.code > last_code,
                    customers.c.marketing_consent.is_(True),
                    customers.c.email.is_not(None),
                )
                .order_by(coupons.c.code)
                .limit(PAGE)
            )
            if after is not None:
                query = query.where(coupons.c.issued_at > after)
            if until is not None:
                query = query.where(coupons.c.issued_at <= until)
            if campaign.per_coupon is not None:
                query = query.where(coupons.c.redeemed_count + coupons.c.held_count < campaign.per_coupon)
            with db.write() as conn:
                page = conn.execute(query).all()
                queued += enqueue_mails(
                    conn,
                    [
                        (
                            c.customer_id,
                            "expiring_soon",
                            {"code": c.display_code, "campaign_id": campaign.id},
                            f"expiring_soon:{c.code}",
                        )
                        for c in page
                    ],
                    now,
                )
            if len(page) < PAGE:
                break
            last_code = page[-1].code
    return queued


def expiry_reminders_job(ctx: JobContext) -> int:
    """The daily scheduled job (COUPONRY_EXPIRY_REMINDER_DAYS ahead)."""
    return queue_expiry_reminders(ctx.db, ctx.now, ctx.settings.expiry_reminder_days)
