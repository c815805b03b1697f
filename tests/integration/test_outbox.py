"""The outbox is written in the caller's transaction: it exists exactly when its cause committed."""

from __future__ import annotations

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.outbox import enqueue_event, enqueue_mail
from couponry.adapters.db.tables import outbox
from couponry.services.access.actors import SYSTEM
from couponry.services.ids import utcnow
from couponry.services.messaging import webhooks


def _count(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar_one()


def _subscribe(db: Database, *events: str) -> None:
    webhooks.create_webhook(db, SYSTEM, "http://127.0.0.1:9/hook", list(events), utcnow())


def test_a_message_queued_in_a_rolled_back_transaction_is_never_sent(db: Database) -> None:
    class Cause(Exception):
        pass

    _subscribe(db, "coupon.issued")
    try:
        with db.write() as conn:
            enqueue_event(conn, "coupon.issued", {"code": "X"}, utcnow())
            enqueue_mail(conn, "c1", "coupon_issued", {"code": "X"}, utcnow())
            raise Cause
    except Cause:
        pass
    assert _count(db) == 0


def test_the_same_dedupe_key_queues_one_message(db: Database) -> None:
    _subscribe(db, "coupon.issued")
    now = utcnow()
    with db.write() as conn:
        first = enqueue_mail(conn, "c1", "coupon_issued", {"code": "X"}, now, dedupe_key="issued:X")
        second = enqueue_mail(conn, "c1", "coupon_issued", {"code": "X"}, now, dedupe_key="issued:X")
        event = enqueue_event(conn, "coupon.issued", {"code": "X"}, now)
    assert (first, second, event) == (True, False, True)
    assert _count(db) == 2


def test_an_event_nobody_subscribes_to_is_not_written(db: Database) -> None:
    _subscribe(db, "coupon.issued")
    with db.write() as conn:
        queued = enqueue_event(conn, "coupon.redeemed", {"code": "X"}, utcnow())
    assert queued is False
    assert _count(db) == 0


def test_settled_messages_are_forgotten_after_the_retention_and_pending_ones_never(db: Database) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from couponry.services.messaging.delivery import purge_outbox

    old, recent = utcnow() - timedelta(days=100), utcnow()
    with db.write() as conn:
        enqueue_mail(conn, "c1", "coupon_issued", {"code": "A"}, old, dedupe_key="sent-long-ago")
        enqueue_mail(conn, "c1", "coupon_issued", {"code": "B"}, old, dedupe_key="still-pending")
        enqueue_mail(conn, "c1", "coupon_issued", {"code": "C"}, recent, dedupe_key="sent-lately")
        conn.execute(update(outbox).where(outbox.c.dedupe_key != "still-pending").values(status="delivered"))
    assert purge_outbox(db, utcnow() - timedelta(days=90)) == 1
    with db.read() as conn:
        left = set(conn.execute(select(outbox.c.dedupe_key)).scalars())
    assert left == {"still-pending", "sent-lately"}
