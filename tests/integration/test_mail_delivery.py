"""Mail delivery with the clock in the test's hands, against a real SMTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import outbox
from couponry.services.access.actors import SYSTEM
from couponry.services.customers import customers
from couponry.services.messaging.mail_delivery import deliver_mail
from couponry.services.messaging.mails import queue_birthday, queue_points_statement
from couponry.settings import Settings
from tests.e2e.messaging_helpers import SmtpSink

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class RefusingSink(SmtpSink):
    """Refuses for good every recipient whose address starts with "gone"."""

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: ANN001
        if address.startswith("gone"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[RefusingSink]:
    smtp = RefusingSink().start()
    yield smtp
    smtp.stop()


def _customer(db: Database, customer_id: str, consent: bool = True) -> str:
    address = f"{customer_id}@example.com"
    customers.put_customer(db, SYSTEM, customer_id, {"email": address, "marketing_consent": consent}, T0)
    return address


def _statuses(db: Database) -> dict[str, tuple[str, int]]:
    with db.read() as conn:
        rows = conn.execute(select(outbox.c.customer_id, outbox.c.status, outbox.c.attempts)).all()
    return {r.customer_id: (r.status, r.attempts) for r in rows}


def test_two_deliverers_at_once_send_each_mail_once(db: Database, sink: RefusingSink) -> None:
    for i in range(60):
        _customer(db, f"c{i}")
    with db.write() as conn:
        for i in range(60):
            queue_birthday(conn, f"c{i}", T0.date(), T0)
    settings = Settings(smtp_url=sink.url)
    threads = [threading.Thread(target=deliver_mail, args=(db, settings, T0)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["X-Envelope-To"] for m in sink.messages) == sorted(f"c{i}@example.com" for i in range(60))
    assert set(_statuses(db).values()) == {("delivered", 1)}


def test_a_recipient_refused_for_good_fails_and_the_rest_of_the_batch_goes_on(
    db: Database, sink: RefusingSink
) -> None:
    _customer(db, "gone")
    kept = _customer(db, "kept")
    with db.write() as conn:
        queue_points_statement(conn, "gone", "2026-11", {"available": 10, "pending": 0}, T0)
        queue_points_statement(conn, "kept", "2026-11", {"available": 10, "pending": 0}, T0)
    deliver_mail(db, Settings(smtp_url=sink.url), T0)
    deliver_mail(db, Settings(smtp_url=sink.url), T0 + timedelta(days=1))
    assert [m["X-Envelope-To"] for m in sink.messages] == [kept]
    assert _statuses(db) == {"gone": ("failed", 1), "kept": ("delivered", 1)}


def test_mails_wait_untouched_while_no_smtp_server_is_configured(db: Database) -> None:
    _customer(db, "ann")
    with db.write() as conn:
        queue_birthday(conn, "ann", T0.date(), T0)
        again = queue_birthday(conn, "ann", T0.date(), T0 + timedelta(hours=1))
    deliver_mail(db, Settings(smtp_url=None), T0)
    assert again is False  # once per customer and year
    assert _statuses(db) == {"ann": ("pending", 0)}
