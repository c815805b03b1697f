"""Whether a single code applies to a cart: every refusal reason but the stacking and budget ones
(those need several codes or a discount: see test_pricing.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot, CustomerProfile, UnknownCoupon
from couponry.domain.eligibility import Eligible, Refusal, check, effective_end
from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    AmountOff,
    Benefit,
    CampaignRules,
    CampaignStatus,
    Conditions,
    FreeShipping,
    Issuer,
    Limits,
    Scope,
    Tier,
    Tiered,
    TimeWindow,
    Validity,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday
FIVE_OFF = AmountOff(500)
ALICE = CustomerProfile(id="alice", tags=frozenset({"vip"}), segment_ids=frozenset({"seg1"}))


def coupon(
    benefit: Benefit = FIVE_OFF, owner_id: str | None = None, issued_at: datetime | None = None, **rules: Any
) -> CouponSnapshot:
    return CouponSnapshot("CODE", CampaignRules("camp", "USD", benefit, **rules), owner_id, issued_at)


def line(id: str, unit_price: int = 1000, quantity: int = 1, **fields: Any) -> CartLine:
    return CartLine(id, unit_price, quantity, **fields)


def cart(*lines: CartLine, **fields: Any) -> Cart:
    return Cart("USD", lines or (line("1"),), **fields)


def refusal(
    subject: CouponSnapshot | UnknownCoupon,
    basket: Cart | None = None,
    customer: CustomerProfile | None = None,
    now: datetime = NOW,
) -> Reason | None:
    result = check(subject, basket or cart(), customer, now)
    return result.reason if isinstance(result, Refusal) else None


def test_a_code_that_matches_no_coupon_is_unknown() -> None:
    assert refusal(UnknownCoupon("NOPE")) is Reason.UNKNOWN_CODE


@pytest.mark.parametrize("status", [CampaignStatus.DRAFT, CampaignStatus.PAUSED, CampaignStatus.ARCHIVED])
def test_a_campaign_that_is_not_active_refuses_its_codes(status: CampaignStatus) -> None:
    assert refusal(coupon(status=status)) is Reason.CAMPAIGN_INACTIVE


def test_a_coupon_before_its_start_is_not_started() -> None:
    assert refusal(coupon(validity=Validity(starts_at=NOW + timedelta(seconds=1)))) is Reason.NOT_STARTED
    assert refusal(coupon(validity=Validity(starts_at=NOW))) is None


def test_a_coupon_is_expired_from_the_instant_its_validity_ends() -> None:
    assert refusal(coupon(validity=Validity(ends_at=NOW))) is Reason.EXPIRED
    assert refusal(coupon(validity=Validity(ends_at=NOW + timedelta(seconds=1)))) is None


def test_a_relative_validity_counts_days_from_the_coupons_issue() -> None:
    validity = Validity(days_after_issue=7)
    assert refusal(coupon(validity=validity, issued_at=NOW - timedelta(days=7))) is Reason.EXPIRED
    assert refusal(coupon(validity=validity, issued_at=NOW - timedelta(days=6, hours=23))) is None


def test_the_relative_validity_never_outlives_the_campaign_end() -> None:
    subject = coupon(validity=Validity(ends_at=NOW, days_after_issue=30), issued_at=NOW - timedelta(days=1))
    assert effective_end(subject) == NOW
    assert refusal(subject) is Reason.EXPIRED


def test_a_relative_validity_without_an_issue_date_does_not_expire_the_coupon() -> None:
    assert effective_end(coupon(validity=Validity(days_after_issue=1))) is None


def test_a_cart_in_another_currency_is_refused() -> None:
    assert refusal(coupon(), Cart("EUR", (line("1"),))) is Reason.CURRENCY_MISMATCH


def test_a_coupon_for_online_only_is_refused_at_the_point_of_sale() -> None:
    online_only = coupon(conditions=Conditions(channels=frozenset({"online"})))
    assert refusal(online_only, cart(channel="pos")) is Reason.CHANNEL_NOT_ALLOWED
    assert refusal(online_only, cart(channel="online")) is None


@pytest.mark.parametrize(
    "subject",
    [
        coupon(owner_id="alice"),
        coupon(limits=Limits(per_customer=1)),
        coupon(conditions=Conditions(first_order_only=True)),
        coupon(conditions=Conditions(customer_tags=frozenset({"vip"}))),
        coupon(conditions=Conditions(segment_id="seg1")),
    ],
    ids=["personal", "per-customer-limit", "first-order", "tags", "segment"],
)
def test_a_coupon_about_customers_needs_a_customer(subject: CouponSnapshot) -> None:
    assert refusal(subject) is Reason.CUSTOMER_REQUIRED
    assert refusal(subject, customer=ALICE) is None


def test_an_open_coupon_needs_no_customer() -> None:
    assert refusal(coupon()) is None


def test_a_personal_coupon_refuses_another_customer() -> None:
    assert refusal(coupon(owner_id="bob"), customer=ALICE) is Reason.NOT_ASSIGNED_TO_CUSTOMER


def test_a_first_order_coupon_refuses_a_customer_who_has_ordered() -> None:
    subject = coupon(conditions=Conditions(first_order_only=True))
    assert refusal(subject, customer=CustomerProfile("bob", order_count=1)) is Reason.FIRST_ORDER_ONLY
    assert refusal(subject, customer=CustomerProfile("bob", order_count=0)) is None


@pytest.mark.parametrize(
    "conditions",
    [Conditions(customer_tags=frozenset({"staff", "press"})), Conditions(segment_id="seg2")],
    ids=["tags", "segment"],
)
def test_a_customer_outside_the_audience_is_not_eligible(conditions: Conditions) -> None:
    assert refusal(coupon(conditions=conditions), customer=ALICE) is Reason.CUSTOMER_NOT_ELIGIBLE


def test_one_shared_tag_is_enough() -> None:
    subject = coupon(conditions=Conditions(customer_tags=frozenset({"vip", "press"})))
    assert refusal(subject, customer=ALICE) is None


def _windowed(*windows: TimeWindow) -> CouponSnapshot:
    return coupon(conditions=Conditions(time_windows=windows))


def test_a_time_window_is_read_in_its_own_timezone() -> None:
    # given weekdays 14:00-17:00 in Oslo, which is UTC+2 in June
    happy_hour = _windowed(
        TimeWindow(frozenset({"mon", "tue", "wed", "thu", "fri"}), time(14), time(17), "Europe/Oslo")
    )
    # then 12:00 UTC is 14:00 in Oslo (inside) and 15:00 UTC is 17:00 (the end, outside)
    assert refusal(happy_hour, now=NOW) is None
    assert refusal(happy_hour, now=NOW - timedelta(minutes=1)) is Reason.OUTSIDE_TIME_WINDOW
    assert refusal(happy_hour, now=NOW + timedelta(hours=3)) is Reason.OUTSIDE_TIME_WINDOW


def test_a_time_window_only_holds_on_its_days() -> None:
    weekend = _windowed(TimeWindow(frozenset({"sat", "sun"}), time(0), time(23, 59)))
    assert refusal(weekend, now=NOW) is Reason.OUTSIDE_TIME_WINDOW
    assert refusal(weekend, now=NOW + timedelta(days=3)) is None


def test_a_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    # given Friday nights 22:00-02:00 UTC
    friday_night = _windowed(TimeWindow(frozenset({"fri"}), time(22), time(2)))
    friday = datetime(2025, 6, 6, tzinfo=UTC)
    # then Friday 23:00 and Saturday 01:00 are inside; Friday 01:00 and Saturday 02:00 are not
    assert refusal(friday_night, now=friday + timedelta(hours=23)) is None
    assert refusal(friday_night, now=friday + timedelta(hours=25)) is None
    assert refusal(friday_night, now=friday + timedelta(hours=1)) is Reason.OUTSIDE_TIME_WINDOW
    assert refusal(friday_night, now=friday + timedelta(hours=26)) is Reason.OUTSIDE_TIME_WINDOW


def test_any_one_of_several_windows_is_enough() -> None:
    morning_or_evening = _windowed(
        TimeWindow(frozenset({"wed"}), time(6), time(9)), TimeWindow(frozenset({"wed"}), time(11), time(13))
    )
    assert refusal(morning_or_evening, now=NOW) is None


def test_a_coupon_for_some_countries_refuses_other_destinations() -> None:
    domestic = coupon(benefit=FreeShipping(), conditions=Conditions(shipping_countries=frozenset({"NO"})))
    assert refusal(domestic, cart(shipping_country="SJ")) is Reason.COUNTRY_NOT_ALLOWED
    assert refusal(domestic, cart()) is Reason.COUNTRY_NOT_ALLOWED
    assert refusal(domestic, cart(shipping_country="NO")) is None


@pytest.mark.parametrize(
    ("limits", "usage", "reason"),
    [
        (Limits(max_redemptions=10), {"campaign_redemptions": 10}, Reason.USAGE_LIMIT_REACHED),
        (Limits(per_coupon=1), {"coupon_redemptions": 1}, Reason.COUPON_USED_UP),
        (Limits(per_customer=2), {"customer_redemptions": 2}, Reason.CUSTOMER_LIMIT_REACHED),
    ],
)
def test_a_reached_limit_refuses_the_code(limits: Limits, usage: dict[str, int], reason: Reason) -> None:
    used_up = CouponSnapshot("CODE", CampaignRules("camp", "USD", AmountOff(500), limits=limits), **usage)
    assert refusal(used_up, customer=ALICE) is reason
    one_left = {name: count - 1 for name, count in usage.items()}
    assert refusal(CouponSnapshot("CODE", used_up.rules, **one_left), customer=ALICE) is None


def test_the_first_failing_check_is_the_answer() -> None:
    everything_wrong = coupon(
        validity=Validity(ends_at=NOW),
        limits=Limits(max_redemptions=1),
        conditions=Conditions(min_spend=10**6),
    )
    assert refusal(CouponSnapshot("X", everything_wrong.rules, campaign_redemptions=5), Cart("EUR", ())) is (
        Reason.EXPIRED
    )


SHOES = line("1", 4000, category="shoes", brand="acme", product_id="p1")
SALE_SHOES = line("2", 3000, category="shoes", brand="globex", product_id="p2", on_sale=True)
BAG = line("3", 2000, category="bags", brand="acme", product_id="p3")


def qualifying(scope: Scope, *lines: CartLine, issuer: Issuer | None = None) -> tuple[str, ...] | Reason:
    result = check(coupon(scope=scope, issuer=issuer or Issuer()), cart(*lines), None, NOW)
    return result.reason if isinstance(result, Refusal) else tuple(lines[i].id for i in result.lines)


def test_empty_include_lists_mean_every_item() -> None:
    assert qualifying(Scope(), SHOES, SALE_SHOES, BAG) == ("1", "2", "3")


def test_an_item_must_match_every_include_list_given() -> None:
    scope = Scope(categories=frozenset({"shoes"}), brands=frozenset({"acme"}))
    assert qualifying(scope, SHOES, SALE_SHOES, BAG) == ("1",)
    assert qualifying(Scope(products=frozenset({"p3"})), SHOES, BAG) == ("3",)


@pytest.mark.parametrize(
    "scope",
    [
        Scope(exclude_products=frozenset({"p2"})),
        Scope(exclude_categories=frozenset({"bags"}), exclude_brands=frozenset({"globex"})),
        Scope(exclude_on_sale=True, exclude_products=frozenset({"p3"})),
    ],
)
def test_excluded_items_do_not_qualify(scope: Scope) -> None:
    assert "2" not in qualifying(scope, SHOES, SALE_SHOES, BAG)
    assert "1" in qualifying(scope, SHOES, SALE_SHOES, BAG)


def test_an_excluded_item_refuses_a_coupon_that_requires_every_item_to_qualify() -> None:
    strict = Scope(exclude_on_sale=True, require_all_items=True)
    assert qualifying(strict, SHOES, SALE_SHOES) is Reason.EXCLUDED_ITEM_IN_CART
    assert qualifying(strict, SHOES, BAG) == ("1", "3")


def test_a_cart_without_a_qualifying_item_is_refused() -> None:
    assert qualifying(Scope(categories=frozenset({"hats"})), SHOES, BAG) is Reason.NO_ELIGIBLE_ITEMS
    assert refusal(coupon(benefit=FreeShipping()), Cart("USD", (), shipping=500)) is Reason.NO_ELIGIBLE_ITEMS


def test_a_store_coupon_only_sees_that_stores_items() -> None:
    ours, theirs = line("a", store_id="s1"), line("b", store_id="s2")
    assert qualifying(Scope(), ours, theirs, issuer=Issuer("store", "s1")) == ("a",)
    assert qualifying(Scope(), theirs, issuer=Issuer("store", "s1")) is Reason.NO_ELIGIBLE_ITEMS


def test_require_all_items_of_a_store_coupon_ignores_other_stores_items() -> None:
    ours, theirs = line("a", store_id="s1"), line("b", store_id="s2", on_sale=True)
    strict = Scope(exclude_on_sale=True, require_all_items=True)
    assert qualifying(strict, ours, theirs, issuer=Issuer("store", "s1")) == ("a",)


def test_minimum_quantity_counts_qualifying_units_and_says_how_many_are_missing() -> None:
    subject = coupon(conditions=Conditions(min_quantity=5), scope=Scope(categories=frozenset({"shoes"})))
    result = check(subject, cart(line("1", quantity=3, category="shoes"), line("2", quantity=9)), None, NOW)
    assert result == Refusal(Reason.MIN_QUANTITY_NOT_MET, "Add 2 more qualifying items.")
    assert isinstance(check(subject, cart(line("1", quantity=5, category="shoes")), None, NOW), Eligible)


def test_minimum_spend_is_inclusive_and_measured_on_qualifying_items() -> None:
    # given a 10.00-off-over-50.00 coupon on shoes, and a cart of 40.00 shoes and 20.00 of bags
    subject = coupon(conditions=Conditions(min_spend=5000), scope=Scope(categories=frozenset({"shoes"})))
    # when / then the bags do not count, and the hint names what is missing in minor units
    assert check(subject, cart(SHOES, BAG), None, NOW) == Refusal(
        Reason.MIN_SPEND_NOT_MET, "Add 1000 more in qualifying items."
    )
    exactly = check(subject, cart(line("1", 5000, category="shoes")), None, NOW)
    assert isinstance(exactly, Eligible) and exactly.qualifying_total == 5000


def test_a_cart_below_the_lowest_tier_has_not_met_the_minimum_spend() -> None:
    tiered = coupon(benefit=Tiered((Tier(20000, 2500), Tier(10000, 1000))))
    assert check(tiered, cart(line("1", 9000)), None, NOW) == Refusal(
        Reason.MIN_SPEND_NOT_MET, "Add 1000 more in qualifying items."
    )
    assert refusal(tiered, cart(line("1", 10000))) is None
