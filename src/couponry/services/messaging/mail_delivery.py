"""Delivering queued mails over SMTP: consent checked at sending, retries with backoff, nothing lost.

A mail row is leased (outbox_claims), rendered, sent, and settled:
- delivered once the server accepted it (250 after DATA);
- skipped if the customer has no marketing consent (any more), no e-mail address, or (for a reminder)
  the coupon can no longer be used;
- pending again after a backoff when the server is unreachable or answers 4xx, so a stopped SMTP server
  loses nothing: its mails go out once it is back;
- also pending again when the outcome is unknown (no reply after the whole message was sent): sent
  again with the same Message-ID. Losing a coupon mail is worse than a rare duplicate that most mailbox
  providers fold into the first by its Message-ID (docs/messaging.md);
- failed for good on a 5xx, an unusable template, or after the last attempt (MAIL backoff).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import safe_normalize
from couponry.adapters.db.tables import campaigns, coupons, customers, outbox
from couponry.adapters.mail import (
    MailDeferred,
    MailOutcomeUnknown,
    MailRejected,
    SmtpConnection,
    SmtpTarget,
)
from couponry.domain.backoff import MAIL
from couponry.services.campaigns.coupons import coupon_status
from couponry.services.ids import utcnow
from couponry.services.messaging.compose import build_message, describe_discount, render
from couponry.services.messaging.outbox_claims import claim_due, released, retry_values, settle
from couponry.services.messaging.secrets import signing_key
from couponry.services.messaging.unsubscribe import unsubscribe_url
from couponry.settings import Settings

log = logging.getLogger("couponry.mail")
BATCH = 50


@dataclass
class MailReport:
    delivered: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0


def _coupons(db: Database, payloads: list[dict[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
    """The coupons named by `code` in the payloads, as templates show them, by normalized code."""
    keys = {k for p in payloads if p.get("code") and (k := safe_normalize(str(p["code"])))}
    if not keys:
        return {}
    with db.read() as conn:
        rows = conn.execute(
            select(
                coupons,
                campaigns.c.name,
                campaigns.c.currency,
                campaigns.c.definition,
                campaigns.c.status.label("campaign_status"),
                campaigns.c.per_coupon,
            )
            .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
            .where(coupons.c.code.in_(keys))
        ).all()
    found = {}
    for row in rows:
        status, _, ends = coupon_status(row, now)
        found[row.code] = {
            "code": row.display_code,
            "campaign_name": row.name,
            "discount": describe_discount(row.definition["discount"], row.currency),
            "ends_at": f"{ends:%Y-%m-%d %H:%M} UTC" if ends else None,
            "ends": ends,
            "status": status,
        }
    return found


def _context(
    row: Any, customer: Any, coupon: dict[str, Any] | None, url: str, now: datetime
) -> dict[str, Any]:
    context = dict(row.payload)
    context["customer"] = {"id": customer.id, "name": customer.name, "email": customer.email}
    context["unsubscribe_url"] = url
    if coupon is not None:
        context["coupon"] = {**coupon, "url": row.payload.get("coupon_url")}
        if coupon["ends"] is not None:
            context["days_left"] = max((coupon["ends"].date() - now.date()).days, 0)
    return context


def deliver_mail(db: Database, settings: Settings, now: datetime, budget_seconds: float = 20.0) -> MailReport:
    """Send the mails due at `now`, batch after batch, for at most about `budget_seconds`."""
    report = MailReport()
    if not settings.smtp_url:
        return report  # queued mails wait, untouched, until an SMTP server is configured
    target = SmtpTarget.from_url(settings.smtp_url)
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        rows = claim_due(db, outbox, now, BATCH, outbox.c.kind == "mail")
        if not rows:
            break
        if not _send_batch(db, settings, target, rows, now, report):
            break  # the server is down: leave the rest untouched until a later tick
    return report


def _send_batch(
    db: Database, settings: Settings, target: SmtpTarget, rows: list[Any], now: datetime, report: MailReport
) -> bool:
    """Settle one leased batch; False if the SMTP server could not be reached."""
    key = signing_key(db, settings.secret_key)
    with db.read() as conn:
        people = {
            c.id: c
            for c in conn.execute(
                select(
                    customers.c.id, customers.c.email, customers.c.name, customers.c.marketing_consent
                ).where(customers.c.id.in_({r.customer_id for r in rows}))
            )
        }
    found = _coupons(db, [r.payload for r in rows], now)
    outcomes: list[tuple[Any, dict[str, Any]]] = []
    ready = []
    for row in rows:
        customer = people.get(row.customer_id)
        code = safe_normalize(str(row.payload["code"])) if row.payload.get("code") else None
        coupon = found.get(code) if code else None
        reason = None
        if customer is None:
            reason = "no such customer"
        elif not customer.marketing_consent:
            reason = "no marketing consent"
        elif not customer.email:
            reason = "no e-mail address"
        elif row.type == "expiring_soon" and (coupon is None or coupon["status"] != "active"):
            reason = "the coupon can no longer be used"
        if reason:
            outcomes.append((row, {"status": "skipped", "last_error": reason, "delivered_at": now}))
            report.skipped += 1
            continue
        url = unsubscribe_url(settings.public_url, key, customer.id)
        try:
            subject, text, html = render(row.type, _context(row, customer, coupon, url, now))
        except Exception as exc:  # a broken template or payload: sending again would not help
            log.exception("mail %s cannot be rendered", row.id)
            outcomes.append((row, {"status": "failed", "last_error": f"cannot render: {exc}"}))
            report.failed += 1
            continue
        message = build_message(
            message_id=row.id,
            sender=settings.mail_from,
            recipient=customer.email,
            recipient_name=customer.name,
            subject=subject,
            text=text,
            html=html,
            unsubscribe_url=url,
            date=utcnow(),  # the wall clock, like the SMTP server's Received: header (not a tick's --now)
        )
        ready.append((row, message, customer.email))
    sent, reachable = _transmit(settings, target, ready, now, report)
    settle(db, outbox, outcomes + sent)
    return reachable


def _transmit(
    settings: Settings, target: SmtpTarget, ready: list[Any], now: datetime, report: MailReport
) -> tuple[list[tuple[Any, dict[str, Any]]], bool]:
    outcomes: list[tuple[Any, dict[str, Any]]] = []
    if not ready:
        return outcomes, True
    sender = parseaddr(settings.mail_from)[1]
    pending = list(ready)
    try:
        with SmtpConnection(target, settings.smtp_timeout_seconds) as smtp:
            while pending and smtp.alive:
                row, message, recipient = pending.pop(0)
                try:
                    smtp.send(message, sender, recipient)
                except MailRejected as exc:
                    outcomes.append((row, {"status": "failed", "last_error": str(exc)}))
                    report.failed += 1
                except (MailDeferred, MailOutcomeUnknown) as exc:
                    log.warning("mail %s not delivered yet: %s", row.id, exc)
                    outcomes.append((row, retry_values(MAIL, row, now, str(exc))))
                    report.retried += 1
                else:
                    outcomes.append((row, {"status": "delivered", "delivered_at": now, "last_error": None}))
                    report.delivered += 1
    except MailDeferred as exc:  # no connection at all: every mail of the batch waits for the next try
        log.warning("SMTP server unavailable: %s", exc)
        outcomes += [(row, retry_values(MAIL, row, now, str(exc))) for row, _, _ in pending]
        report.retried += len(pending)
        return outcomes, False
    # the connection broke midway: the rest were not tried, their attempt does not count
    outcomes += [(row, released(row, now)) for row, _, _ in pending]
    return outcomes, True
