"""The daily trigger job is idempotent by itself, without the scheduler's run row: run twice the same
day (two workers that both believed the run theirs, or a retried run), it rewards and mails once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, coupons, customers, outbox, trigger_rewards
from couponry.services.access.actors import Actor, Role
from couponry.services.distribution.triggers import create_trigger, run_daily

NOW = datetime(2030, 7, 4, 9, 0, tzinfo=UTC)
ADMIN = Actor("k", Role.ADMIN)


def _campaign(db: Database, campaign_id: str) -> None:
    with db.write() as conn:
        conn.execute(
            insert(campaigns).values(
                id=campaign_id, name="gift", issuer_type="platform", currency="USD", status="active",
                stacking="order", definition={"discount": {"type": "amount", "amount": 500}},
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip


def _customer(db: Database, customer_id: str, birthday: str) -> None:
    with db.write() as conn:
        conn.execute(
            insert(customers).values(
                id=customer_id, birthday=birthday, email=f"{customer_id}@example.com", marketing_consent=True,
                tags=[], attributes={}, signed_up_at=NOW, referral_code=f"r-{customer_id}",
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip


def test_the_daily_job_run_twice_the_same_day_rewards_and_mails_each_birthday_once(db: Database) -> None:
    _campaign(db, "gift")
    create_trigger(db, ADMIN, {"event": "birthday", "campaign_ids": ["gift"]}, NOW)
    _customer(db, "today", "1980-07-04")
    _customer(db, "tomorrow", "1980-07-05")
    assert run_daily(db, NOW) == 1
    assert run_daily(db, NOW.replace(hour=20)) == 0
    with db.read() as conn:
        assert conn.execute(select(coupons.c.customer_id)).scalars().all() == ["today"]
        assert conn.execute(select(func.count()).select_from(trigger_rewards)).scalar_one() == 1
        mails = conn.execute(select(outbox.c.customer_id).where(outbox.c.type == "birthday")).scalars().all()
    assert mails == ["today"]
