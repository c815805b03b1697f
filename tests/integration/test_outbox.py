"""The outbox is written in the caller's transaction: it exists exactly when its cause committed."""

from __future__ import annotations

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.outbox import enqueue_event, enqueue_mail
from couponry.adapters.db.tables import outbox
from couponry.services.ids import utcnow


def _count(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(outbox)).scalar_one()


def test_a_message_queued_in_a_rolled_back_transaction_is_never_sent(db: Database) -> None:
    class Cause(Exception):
        pass

    try:
        with db.write() as conn:
            enqueue_event(conn, "coupon.issued", {"code": "X"}, utcnow())
            raise Cause
    except Cause:
        pass
    assert _count(db) == 0


def test_the_same_dedupe_key_queues_one_message(db: Database) -> None:
    now = utcnow()
    with db.write() as conn:
        first = enqueue_mail(conn, "c1", "coupon_issued", {"code": "X"}, now, dedupe_key="issued:X")
        second = enqueue_mail(conn, "c1", "coupon_issued", {"code": "X"}, now, dedupe_key="issued:X")
        enqueue_event(conn, "coupon.issued", {"code": "X"}, now)
    assert (first, second) == (True, False)
    assert _count(db) == 2
