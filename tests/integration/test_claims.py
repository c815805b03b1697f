"""Claims against the real database (SQLite and PostgreSQL) through the service functions: the stock and
the per-customer limit at their exact boundary, nothing half-written on a refusal, a drawn code that
exists already drawn again, and an offer whose stock cannot be cut below what was claimed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.subscriptions import forget
from couponry.adapters.db.tables import claim_offers, claims, coupons, outbox
from couponry.domain.errors import ClaimRefused, InvalidCampaign
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns.campaigns import create_campaign, update_campaign
from couponry.services.distribution import claims as center
from couponry.services.messaging.webhooks import create_webhook

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def claimed_events_are_subscribed(db: Database) -> Iterator[None]:
    """A webhook listens to coupon.claimed, so each claim queues its event (none is queued for nobody)."""
    create_webhook(db, SYSTEM, "https://shop.example/hooks", ["coupon.claimed"], NOW)
    forget()
    yield
    forget()


def offer(db: Database, **claim: Any) -> str:
    spec = {
        "name": "Flash",
        "currency": "USD",
        "discount": {"type": "amount", "amount": 500},
        "status": "active",
        "stacking": "order",
        "scope": {},
        "conditions": {},
        "validity": {"days_after_issue": 3},
        "limits": {},
        "code_config": {"length": 8},
        "issuer": None,
        "claim": claim,
    }
    return create_campaign(db, SYSTEM, spec, NOW)["id"]


def written(db: Database, campaign_id: str) -> tuple[int, int, int, int]:
    """(claims, coupons, coupon.claimed events, stock counter) of the campaign."""
    with db.read() as conn:
        n_claims = len(conn.execute(select(claims).where(claims.c.campaign_id == campaign_id)).all())
        n_coupons = len(conn.execute(select(coupons).where(coupons.c.campaign_id == campaign_id)).all())
        events = [
            p
            for p in conn.execute(select(outbox.c.payload).where(outbox.c.type == "coupon.claimed")).scalars()
        ]
        counter = conn.execute(
            select(claim_offers.c.claimed).where(claim_offers.c.campaign_id == campaign_id)
        ).scalar_one()
    return n_claims, n_coupons, sum(e["campaign_id"] == campaign_id for e in events), counter


def refusal(db: Database, campaign_id: str, customer: str) -> str:
    with pytest.raises(ClaimRefused) as refused:
        center.claim(db, SYSTEM, campaign_id, customer, NOW)
    return refused.value.code


def test_a_stock_of_two_gives_exactly_two_and_the_third_claim_writes_nothing(db: Database) -> None:
    campaign_id = offer(db, stock=2)
    for customer in ("a", "b"):
        assert center.claim(db, SYSTEM, campaign_id, customer, NOW)[0] == 201
    assert written(db, campaign_id) == (2, 2, 2, 2)
    assert refusal(db, campaign_id, "c") == "out_of_stock"
    assert written(db, campaign_id) == (2, 2, 2, 2)


def test_the_per_customer_limit_stops_at_its_exact_value(db: Database) -> None:
    campaign_id = offer(db, stock=10, per_customer=3)
    codes = {center.claim(db, SYSTEM, campaign_id, "a", NOW)[1]["code"] for _ in range(3)}
    assert len(codes) == 3
    assert refusal(db, campaign_id, "a") == "claim_limit_reached"
    assert written(db, campaign_id) == (3, 3, 3, 3)
    with db.read() as conn:
        assert sorted(conn.execute(select(claims.c.n)).scalars()) == [1, 2, 3]


def test_relative_validity_counts_from_the_claim(db: Database) -> None:
    campaign_id = offer(db, stock=None)
    _, body = center.claim(db, SYSTEM, campaign_id, "a", NOW)
    assert body["valid_until"] == datetime(2026, 5, 23, 12, 0, tzinfo=UTC).isoformat()


def test_a_drawn_code_that_exists_already_is_drawn_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a coupon whose code the generator is steered to draw first
    campaign_id = offer(db, stock=5)
    with db.write() as conn:
        conn.execute(
            insert(coupons).values(
                code="TAKENAAA", display_code="TAKENAAA", campaign_id="other", customer_id=None, issued_at=NOW
            )
        )
    drawn = iter([["TAKENAAA"], ["FRESHBBB"]])
    monkeypatch.setattr(center, "generate", lambda config, n: next(drawn))
    # when a customer claims
    status, body = center.claim(db, SYSTEM, campaign_id, "a", NOW)
    # then the second code was issued, and the claim, the coupon and the event all name it
    assert status == 201 and body["code"] == "FRESHBBB"
    with db.read() as conn:
        assert conn.execute(select(claims.c.code)).scalars().all() == ["FRESHBBB"]
        assert conn.execute(select(coupons.c.customer_id).where(coupons.c.code == "FRESHBBB")).scalar() == "a"
        events = (
            conn.execute(select(outbox.c.payload).where(outbox.c.type == "coupon.claimed")).scalars().all()
        )
    assert [e["code"] for e in events] == ["FRESHBBB"]
    assert written(db, campaign_id) == (1, 1, 1, 1)


def test_the_stock_cannot_be_cut_below_what_was_claimed(db: Database) -> None:
    campaign_id = offer(db, stock=5)
    for customer in ("a", "b"):
        center.claim(db, SYSTEM, campaign_id, customer, NOW)
    with pytest.raises(InvalidCampaign) as invalid:
        update_campaign(db, SYSTEM, campaign_id, {"claim": {"stock": 1}}, NOW)
    assert invalid.value.field == "claim.stock"
    updated = update_campaign(db, SYSTEM, campaign_id, {"claim": {"stock": 2}}, NOW)
    assert updated["claim"]["stock"] == 2 and updated["claim"]["claimed"] == 2
    assert refusal(db, campaign_id, "c") == "out_of_stock"


def test_an_idempotency_key_replays_a_claim_and_its_refusal(db: Database) -> None:
    campaign_id = offer(db, stock=1)
    first = center.claim(db, SYSTEM, campaign_id, "a", NOW, key="k1")
    assert center.claim(db, SYSTEM, campaign_id, "a", NOW, key="k1") == first
    with pytest.raises(ClaimRefused) as refused:
        center.claim(db, SYSTEM, campaign_id, "b", NOW, key="k2")
    assert refused.value.code == "out_of_stock"
    update_campaign(db, SYSTEM, campaign_id, {"claim": {"stock": 5}}, NOW)
    with pytest.raises(ClaimRefused):  # the same key and body: the first answer, not a second try
        center.claim(db, SYSTEM, campaign_id, "b", NOW, key="k2")
    assert written(db, campaign_id) == (1, 1, 1, 1)
