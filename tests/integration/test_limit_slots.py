"""A campaign-wide limit spread over counter rows (slots), through the services and the slot SQL itself.

On PostgreSQL the `db` fixture spreads limits over 8 slots; SQLite always uses one (it serializes
writers, so spreading brings nothing there), which runs the same statements.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from couponry.adapters.db.engine import Database
from couponry.adapters.db.limit_slots import shares
from couponry.adapters.db.usage import LimitReached, Usage, take
from couponry.domain.cart import Cart, CartLine
from couponry.domain.errors import RedemptionRefused
from couponry.domain.reasons import Reason
from couponry.services.access.actors import SYSTEM
from couponry.services.campaigns import campaigns, coupons
from couponry.services.checkout import redemptions, reservations, rollbacks
from couponry.services.checkout.orders import RedemptionRequest

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CODE = "FLASH"
CART = Cart(currency="USD", lines=(CartLine(id="1", unit_price=1000, quantity=2),), shipping=0)


def _campaign(db: Database, amount: int = 300, **limits: Any) -> str:
    spec = {
        "name": "flash sale",
        "currency": "USD",
        "issuer": {"type": "platform"},
        "discount": {"type": "amount", "amount": amount},
        "scope": {},
        "conditions": {},
        "validity": {},
        "limits": limits,
        "stacking": "order",
        "code_config": {"length": 12},
        "status": "active",
    }
    created = campaigns.create_campaign(db, SYSTEM, spec, T0)
    coupons.issue_codes(db, SYSTEM, created["id"], codes=[CODE], count=None, customer_id=None, now=T0)
    return created["id"]


def _redeem(db: Database, order: str) -> str:
    _, body = redemptions.redeem(db, SYSTEM, RedemptionRequest(order, CART, (CODE,), None, {"o": order}), T0)
    return body["id"]


def _refused_reason(db: Database, order: str) -> str:
    with pytest.raises(RedemptionRefused) as refused:
        _redeem(db, order)
    return refused.value.extra["codes"][0]["reason"]


def _take_directly(db: Database, campaign_id: str, amount: int = 300) -> None:
    """The slot SQL on its own, as a request whose snapshot said the code was fine would reach it."""
    with db.write() as conn:
        take(conn, [Usage(campaign_id, CODE, amount, None)], hold=False)


def _shares(db: Database, campaign_id: str) -> list[tuple[int | None, int | None]]:
    with db.read() as conn:
        return [
            (r.uses_left, r.budget_left)
            for r in conn.execute(
                text(
                    "SELECT uses_left, budget_left FROM campaign_limit_slots "
                    "WHERE campaign_id = :id ORDER BY slot"
                ),
                {"id": campaign_id},
            )
        ]


def _stats(db: Database, campaign_id: str) -> dict[str, int]:
    return campaigns.get_campaign(db, SYSTEM, campaign_id)["stats"]


def _patch(db: Database, campaign_id: str, **patch: Any) -> dict[str, Any]:
    return campaigns.update_campaign(db, SYSTEM, campaign_id, patch, T0)


def _slots(db: Database) -> int:
    return 8 if db.is_postgres else 1


def test_what_is_left_is_spread_as_evenly_as_possible() -> None:
    assert shares(10, 4) == [3, 3, 2, 2]
    assert shares(3, 8) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert shares(-5, 2) == [0, 0]
    assert shares(None, 3) == [None, None, None]


def test_a_new_limit_is_spread_over_the_slots_with_shares_adding_up_to_it(db: Database) -> None:
    # when
    campaign_id = _campaign(db, max_redemptions=100, budget=50_000)
    # then
    spread = _shares(db, campaign_id)
    assert len(spread) == _slots(db)
    assert sum(u for u, _ in spread) == 100 and sum(b for _, b in spread) == 50_000
    assert max(u for u, _ in spread) - min(u for u, _ in spread) <= 1


def test_a_limit_of_30_redeemed_one_by_one_redeems_exactly_30_and_the_slot_sql_refuses_the_31st(
    db: Database,
) -> None:
    # given
    campaign_id = _campaign(db, max_redemptions=30)
    # when
    for i in range(30):
        _redeem(db, f"o{i}")
        assert sum(u for u, _ in _shares(db, campaign_id)) == 29 - i
    # then
    assert _stats(db, campaign_id)["redeemed_count"] == 30
    assert _refused_reason(db, "o30") == "usage_limit_reached"
    with pytest.raises(LimitReached) as refused:
        _take_directly(db, campaign_id)
    assert refused.value.reason is Reason.USAGE_LIMIT_REACHED
    assert _stats(db, campaign_id)["redeemed_count"] == 30


def test_a_budget_spread_thinner_than_one_discount_is_still_spent_to_the_last_discount_it_can_pay(
    db: Database,
) -> None:
    # given a budget of 1,000 (125 per slot on 8 slots) and discounts of 300
    campaign_id = _campaign(db, amount=300, budget=1_000)
    # when
    for i in range(3):
        _redeem(db, f"o{i}")
    # then the slow path gathered the shares: 900 spent, 100 left, which no discount of 300 fits
    assert (_stats(db, campaign_id)["redeemed_count"], _stats(db, campaign_id)["budget_used"]) == (3, 900)
    assert sum(b for _, b in _shares(db, campaign_id)) == 100
    with pytest.raises(LimitReached) as refused:
        _take_directly(db, campaign_id, amount=300)
    assert refused.value.reason is Reason.BUDGET_EXHAUSTED
    _take_directly(db, campaign_id, amount=100)  # what is left still pays a discount that fits
    assert _stats(db, campaign_id)["budget_used"] == 1_000


def test_uses_given_back_by_rollbacks_are_spread_again_and_used_exactly_once(db: Database) -> None:
    # given a limit of 5, used up, two of which are rolled back
    campaign_id = _campaign(db, max_redemptions=5, budget=10_000)
    ids = [_redeem(db, f"o{i}") for i in range(5)]
    for redemption_id in ids[:2]:
        rollbacks.rollback(db, SYSTEM, redemption_id, "cancelled", None, T0)
    assert (_stats(db, campaign_id)["redeemed_count"], _stats(db, campaign_id)["budget_used"]) == (3, 900)
    # when
    _redeem(db, "again-1")
    _redeem(db, "again-2")
    # then
    assert _refused_reason(db, "again-3") == "usage_limit_reached"
    assert (_stats(db, campaign_id)["redeemed_count"], _stats(db, campaign_id)["budget_used"]) == (5, 1_500)


def test_a_limit_lowered_below_its_usage_refuses_until_rollbacks_bring_the_usage_under_it(
    db: Database,
) -> None:
    # given 8 of 10 used, then the limit lowered to 5
    campaign_id = _campaign(db, max_redemptions=10)
    ids = [_redeem(db, f"o{i}") for i in range(8)]
    _patch(db, campaign_id, limits={"max_redemptions": 5})
    assert sum(u for u, _ in _shares(db, campaign_id)) == 0
    with pytest.raises(LimitReached):
        _take_directly(db, campaign_id)
    # when four are rolled back (usage 4 of 5)
    for redemption_id in ids[:4]:
        rollbacks.rollback(db, SYSTEM, redemption_id, "cancelled", None, T0)
    # then exactly one more fits
    _redeem(db, "fits")
    assert _refused_reason(db, "over") == "usage_limit_reached"
    assert _stats(db, campaign_id)["redeemed_count"] == 5


def test_a_raised_limit_is_spread_again_over_the_same_slots(db: Database) -> None:
    # given
    campaign_id = _campaign(db, max_redemptions=10)
    for i in range(10):
        _redeem(db, f"o{i}")
    # when
    patched = _patch(db, campaign_id, limits={"max_redemptions": 26})
    # then
    assert patched["stats"]["redeemed_count"] == 10
    assert len(_shares(db, campaign_id)) == _slots(db)
    assert sum(u for u, _ in _shares(db, campaign_id)) == 16


def test_a_paused_campaign_has_no_shares_and_its_slot_sql_refuses_it_as_inactive(db: Database) -> None:
    # given
    campaign_id = _campaign(db, max_redemptions=10, budget=5_000)
    # when
    _patch(db, campaign_id, status="paused")
    # then
    assert all(share == (0, 0) for share in _shares(db, campaign_id))
    with pytest.raises(LimitReached) as refused:
        _take_directly(db, campaign_id)
    assert refused.value.reason is Reason.CAMPAIGN_INACTIVE
    # and active again, its shares come back
    _patch(db, campaign_id, status="active")
    assert sum(u for u, _ in _shares(db, campaign_id)) == 10
    _redeem(db, "o1")


def test_holds_count_on_the_slots_and_confirming_or_releasing_them_keeps_the_limit(db: Database) -> None:
    # given a limit of 3 and three holds
    campaign_id = _campaign(db, amount=300, max_redemptions=3)
    holds = []
    for i in range(3):
        request = RedemptionRequest(f"h{i}", CART, (CODE,), None, {"o": f"h{i}"})
        holds.append(reservations.reserve(db, SYSTEM, request, 600, T0)[1])
    assert _refused_reason(db, "crowd") == "usage_limit_reached"
    # when one is confirmed and one released
    confirm = RedemptionRequest("h0", CART, (), None, {"o": "h0"}, holds[0]["id"])
    redemptions.redeem(db, SYSTEM, confirm, T0)
    reservations.release_reservation(db, SYSTEM, holds[1]["id"], T0)
    # then
    stats = _stats(db, campaign_id)
    assert (stats["redeemed_count"], stats["held_count"], stats["budget_used"], stats["budget_held"]) == (
        1,
        1,
        300,
        300,
    )
    _redeem(db, "after-release")  # the released place is used once
    assert _refused_reason(db, "crowd-2") == "usage_limit_reached"


def test_a_partial_refund_gives_its_share_of_the_discount_back_to_the_slots(db: Database) -> None:
    # given 300 off a line of two units
    campaign_id = _campaign(db, amount=300, budget=600)
    redemption_id = _redeem(db, "o1")
    # when one unit is refunded
    rollbacks.rollback(db, SYSTEM, redemption_id, "refund", [("1", 1)], T0)
    # then half the discount is back, and it pays for a later discount
    assert (_stats(db, campaign_id)["redeemed_count"], _stats(db, campaign_id)["budget_used"]) == (1, 150)
    _redeem(db, "o2")
    _take_directly(db, campaign_id, amount=150)
    assert _stats(db, campaign_id)["budget_used"] == 600


def test_a_limit_added_to_a_campaign_starts_its_slots_from_the_redemptions_already_made(db: Database) -> None:
    # given 4 redemptions of a campaign without a campaign-wide limit
    campaign_id = _campaign(db)
    for i in range(4):
        _redeem(db, f"o{i}")
    assert _shares(db, campaign_id) == []
    # when
    patched = _patch(db, campaign_id, limits={"max_redemptions": 6})
    # then
    assert patched["stats"]["redeemed_count"] == 4
    assert sum(u for u, _ in _shares(db, campaign_id)) == 2
    _redeem(db, "o4")
    _redeem(db, "o5")
    assert _refused_reason(db, "o6") == "usage_limit_reached"


def test_a_limit_removed_removes_the_slots_and_its_usage_is_counted_from_the_records(db: Database) -> None:
    # given
    campaign_id = _campaign(db, max_redemptions=2)
    _redeem(db, "o1")
    _redeem(db, "o2")
    # when
    patched = _patch(db, campaign_id, limits={"per_customer": None})
    # then
    assert _shares(db, campaign_id) == []
    assert patched["stats"]["redeemed_count"] == 2
    _redeem(db, "o3")
    assert _stats(db, campaign_id)["redeemed_count"] == 3


def test_an_open_code_counts_no_uses_on_its_row_and_reads_them_from_its_redemptions(db: Database) -> None:
    # given
    _campaign(db, max_redemptions=10)
    # when
    _redeem(db, "o1")
    _redeem(db, "o2")
    # then
    with db.read() as conn:
        row = conn.execute(text("SELECT redeemed_count FROM coupons WHERE code = :c"), {"c": CODE}).one()
    assert row.redeemed_count == 0
    assert coupons.get_coupon(db, SYSTEM, CODE, T0)["redeemed_count"] == 2


def test_a_per_coupon_limit_added_later_starts_from_the_coupons_redemptions(db: Database) -> None:
    # given two redemptions of a code without a per-coupon limit
    campaign_id = _campaign(db)
    _redeem(db, "o1")
    _redeem(db, "o2")
    # when it gets a per-coupon limit of 3
    _patch(db, campaign_id, limits={"per_coupon": 3})
    # then one more use is left
    _redeem(db, "o3")
    assert _refused_reason(db, "o4") == "coupon_used_up"
    assert coupons.get_coupon(db, SYSTEM, CODE, T0)["redeemed_count"] == 3


def test_a_take_that_waited_for_another_on_the_same_slot_takes_from_that_slot_once_it_is_free(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite lets one writer in at a time: no transaction ever waits for a row lock there")
    # given two takes that pick the same slot, the first one holding it
    campaign_id = _campaign(db, max_redemptions=80)
    monkeypatch.setattr("couponry.adapters.db.usage.pick", lambda: 3)
    first = db.engine.connect()
    first.begin()
    take(first, [Usage(campaign_id, CODE, 300, None)], hold=False)
    second = threading.Thread(target=_take_directly, args=(db, campaign_id))
    # when the second one waits for it, and the first commits
    second.start()
    time.sleep(0.3)
    first.commit()
    first.close()
    second.join(10)
    # then the second took its unit from that same slot, not from the slow path over all slots
    assert _stats(db, campaign_id)["redeemed_count"] == 2
    with db.read() as conn:
        counts = conn.execute(
            text(
                "SELECT slot, redeemed_count FROM campaign_limit_slots WHERE campaign_id = :id ORDER BY slot"
            ),
            {"id": campaign_id},
        ).all()
    assert [c for _, c in counts] == [0, 0, 0, 2, 0, 0, 0, 0]
    assert sum(u for u, _ in _shares(db, campaign_id)) == 78
