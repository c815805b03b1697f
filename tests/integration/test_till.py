"""Redeeming at the till against the real database (SQLite and PostgreSQL) through the service
functions: slides from several pages at once redeem once, a retried slide or a double tap answers as
the first, and what the coupon page shows before and after."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import redemptions
from couponry.services.access.actors import SYSTEM, Actor, Role
from couponry.services.campaigns.campaigns import create_campaign
from couponry.services.campaigns.coupons import issue_codes
from couponry.services.checkout import till
from couponry.services.distribution.links import CouponLinks
from couponry.services.ids import utcnow

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
LINKS = CouponLinks("http://shop.example", b"k" * 32)
TILL = Actor(key_id="till-1", role=Role.POS)


def coupon(db: Database, customer_id: str | None = "ada", **spec: Any) -> str:
    body = {
        "name": "Ten off",
        "currency": "USD",
        "discount": {"type": "amount", "amount": 1000},
        "status": "active",
        "stacking": "order",
        "scope": {},
        "conditions": spec.pop("conditions", {}),
        "validity": {},
        "limits": spec.pop("limits", {}),
        "code_config": {"length": 12},
        "issuer": None,
    }
    campaign_id = create_campaign(db, SYSTEM, body, NOW)["id"]
    _, issued = issue_codes(db, SYSTEM, campaign_id, codes=None, count=1, customer_id=customer_id, now=NOW)
    return issued["codes"][0]


def redemption_count(db: Database, order_id: str) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).where(redemptions.c.order_id == order_id)).scalar_one()


def test_slides_from_several_pages_at_once_redeem_once(db: Database) -> None:
    # given: the holder's page open on four phones
    code = coupon(db)
    token = LINKS.token(code, "ada")
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def slide(n: int) -> None:
        start.wait()
        outcomes.append(till.slide_to_redeem(db, LINKS, code, token, f"attempt-{n}", NOW).outcome)

    # when: all four slide at once
    threads = [threading.Thread(target=slide, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert sorted(outcomes) == ["already_used"] * 3 + ["redeemed"]
    assert redemption_count(db, f"coupon-page:{code}") == 1
    page = till.coupon_page(db, LINKS, code, token, NOW)
    assert page is not None and page.state == "used" and page.redeemed_at is not None and not page.can_slide


def test_a_retried_slide_gets_its_confirmation_again(db: Database) -> None:
    code = coupon(db)
    token = LINKS.token(code, "ada")
    first = till.slide_to_redeem(db, LINKS, code, token, "attempt-a", NOW)
    retried = till.slide_to_redeem(db, LINKS, code, token, "attempt-a", NOW)
    assert first.outcome == retried.outcome == "redeemed" and first.redeemed_at == retried.redeemed_at


def test_a_personal_coupon_without_its_token_has_no_page_and_cannot_be_slid(db: Database) -> None:
    code = coupon(db)
    assert till.coupon_page(db, LINKS, code, None, NOW) is None
    assert till.coupon_page(db, LINKS, code, LINKS.token(code, "bob"), NOW) is None
    assert till.slide_to_redeem(db, LINKS, code, "forged", "attempt-x", NOW) is None
    assert redemption_count(db, f"coupon-page:{code}") == 0


def test_the_page_of_a_valid_coupon_offers_the_slide_with_its_terms(db: Database) -> None:
    code = coupon(db, conditions={"min_spend": 5000})
    page = till.coupon_page(db, LINKS, code.lower(), LINKS.token(code, "ada"), NOW)
    assert page is not None and page.code == code and page.state == "valid" and page.can_slide
    assert (page.discount, page.terms) == ("10.00 off", "10.00 off orders of 50.00 or more")


def test_a_double_tap_at_the_till_redeems_once(db: Database) -> None:
    code = coupon(db, customer_id=None, limits={"per_coupon": 5})
    results: list[till.TillRedemption] = []
    start = threading.Barrier(2)

    def tap() -> None:
        start.wait()
        results.append(till.redeem_at_till(db, TILL, code, "40.00", "tap-1", NOW))

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.redemption_id for r in results} == {results[0].redemption_id} and results[0].redemption_id
    assert results[0].check.discount == 1000 and results[0].check.to_pay == 3000
    assert redemption_count(db, "pos:tap-1") == 1


def test_the_till_says_why_not_before_redeeming_anything(db: Database) -> None:
    code = coupon(db, customer_id=None, conditions={"min_spend": 5000})
    checked = till.check_at_till(db, TILL, code, "49.99", NOW)
    assert not checked.valid and checked.reason == "The amount is below the minimum spend of 50.00."
    refused = till.redeem_at_till(db, TILL, code, "49.99", "tap-2", NOW)
    assert refused.redemption_id is None and refused.check.reason == checked.reason
    assert redemption_count(db, "pos:tap-2") == 0


def test_the_demo_prints_the_page_of_its_personal_coupon(db: Database) -> None:
    from urllib.parse import parse_qs, urlsplit

    from couponry.services.demo import seed_demo
    from couponry.services.distribution.links import coupon_links

    [line] = [line for line in seed_demo(db) if "personal to demo-customer" in line]
    url = urlsplit(line.split("page: ")[1])
    code = url.path.removeprefix("/c/")
    page = till.coupon_page(db, coupon_links(db), code, parse_qs(url.query)["t"][0], utcnow())
    assert page is not None and page.can_slide and page.campaign_name == "VIP birthday 20 off"
