"""Issuing a publication's batch against the real database: claims, coupons and outbox rows agree,
a second batch for the same customers issues nothing, and a drawn code that already exists is drawn
again (the generator is steered to collide; the database is real)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from couponry.adapters.db import publishing
from couponry.adapters.db.engine import Database
from couponry.adapters.db.publishing import IssuedMail, Recipient, issue_batch
from couponry.adapters.db.tables import coupons, outbox, published_coupons
from couponry.domain.codes import CodeConfig

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
CONFIG = CodeConfig(length=8)
MAIL = IssuedMail(
    "Spring", None, lambda display, code, customer: f"https://shop.test/c/{display}?t={customer}"
)


def issue(db: Database, recipients: list[Recipient], publication: str = "p1") -> list[publishing.Issued]:
    with db.write() as conn:
        return issue_batch(
            conn,
            campaign_id="camp",
            publication_id=publication,
            config=CONFIG,
            recipients=recipients,
            now=NOW,
            mail=MAIL,
        )


def rows(db: Database, table) -> list:  # noqa: ANN001
    with db.read() as conn:
        return conn.execute(select(table)).all()


def test_a_batch_claims_issues_and_queues_one_event_each_and_mails_the_consenting(db: Database) -> None:
    recipients = [
        Recipient("a", "a@x.test", True),
        Recipient("b", None, True),
        Recipient("c", "c@x.test", False),
    ]
    issued = issue(db, recipients)
    assert sorted(i.customer_id for i in issued) == ["a", "b", "c"]
    claims = {r.customer_id: r.code for r in rows(db, published_coupons)}
    stored = {r.customer_id: r.code for r in rows(db, coupons)}
    assert claims == stored
    messages = rows(db, outbox)
    events = sorted((m.payload["customer_id"], m.payload["code"]) for m in messages if m.kind == "event")
    assert events == sorted((i.customer_id, i.code) for i in issued)
    (mail,) = [m for m in messages if m.kind == "mail"]
    code = next(i.code for i in issued if i.customer_id == "a")
    assert mail.customer_id == "a" and mail.dedupe_key == f"issued:{code}"
    assert mail.payload == {
        "code": code,
        "campaign_id": "camp",
        "campaign_name": "Spring",
        "coupon_url": f"https://shop.test/c/{code}?t=a",
        "valid_until": None,
    }


def test_customers_already_holding_a_published_coupon_of_the_campaign_get_nothing(db: Database) -> None:
    issue(db, [Recipient("a", None, False)], "p1")
    again = issue(db, [Recipient("a", None, False), Recipient("b", None, False)], "p2")
    assert [i.customer_id for i in again] == ["b"]
    assert len(rows(db, coupons)) == 2 and len(rows(db, published_coupons)) == 2
    assert len([m for m in rows(db, outbox) if m.kind == "event"]) == 2


def test_a_drawn_code_that_exists_elsewhere_is_drawn_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a coupon whose code the generator is about to draw again
    with db.write() as conn:
        conn.execute(
            insert(coupons).values(
                code="TAKEN234", display_code="TAKEN234", campaign_id="other", issued_at=NOW
            )
        )
    real = publishing.generate
    draws = iter([["TAKEN234"]])
    monkeypatch.setattr(publishing, "generate", lambda config, n: next(draws, None) or real(config, n))
    # when a batch of one is issued
    (issued,) = issue(db, [Recipient("a", "a@x.test", True)])
    # then the customer has a fresh code, and claim, coupon, event and mail all name it
    assert issued.code != "TAKEN234"
    assert {r.code for r in rows(db, published_coupons)} == {issued.code}
    assert {(r.code, r.customer_id) for r in rows(db, coupons)} == {("TAKEN234", None), (issued.code, "a")}
    assert sorted(m.payload["code"] for m in rows(db, outbox)) == [issued.code, issued.code]
