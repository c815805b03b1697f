"""Turning a queued mail into a message: Jinja2 templates (HTML and plain text), headers of RFC 8058.

Templates live in couponry/templates/mail: NAME.subject.txt, NAME.txt and NAME.html for each of
coupon_issued, expiring_soon, birthday and points_statement. HTML is autoescaped; text is not.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from couponry.adapters.db.campaign_rules import benefit_from_dict
from couponry.domain import wording

TEMPLATES = ("coupon_issued", "expiring_soon", "birthday", "points_statement")


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("couponry", "templates/mail"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def format_money(amount: int, currency: str) -> str:
    """ "10.50 USD", "500 JPY": an amount with its currency, for mails."""
    return f"{wording.format_amount(amount, currency)} {currency}"


def describe_discount(discount: dict[str, Any], currency: str) -> str:
    """A stored discount in the words of the web pages (domain.wording), each amount with its currency:
    "15% off (up to 20.00 EUR)", "5.00 USD off", "free shipping" ..."""
    return wording.describe_discount(benefit_from_dict(discount), currency, with_currency=True)


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a template for this context."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown mail template {template!r}")
    env = _environment()
    subject = env.get_template(f"{template}.subject.txt").render(context)
    text = env.get_template(f"{template}.txt").render(context)
    html = env.get_template(f"{template}.html").render(context)
    return " ".join(subject.split()), text, html


def build_message(
    *,
    message_id: str,
    sender: str,
    recipient: str,
    recipient_name: str | None,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str,
    date: datetime,
) -> EmailMessage:
    """A multipart/alternative message with one-click unsubscribe headers (RFC 2369 and RFC 8058).

    `message_id` is the outbox row's id, so a retried mail carries the same Message-ID as the first
    attempt and a receiving system can tell the two are one message."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = Address(display_name=recipient_name or "", addr_spec=recipient)
    msg["Date"] = format_datetime(date)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{message_id}@{domain}>"
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
