"""The pure trigger decisions: when a trigger fires, what its cap counts over, birthdays and the
second new-user package."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from couponry.domain.errors import InvalidInput
from couponry.domain.triggers import (
    Occurrence,
    PackageCoupon,
    Trigger,
    check_trigger,
    coupon_ends,
    fires,
    is_anniversary,
    is_birthday,
    occasion,
    period,
    welcome_unused_due,
)

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def order(amount: int | None, order_id: str = "o1") -> Occurrence:
    return Occurrence("order.completed", "c1", order_id, NOW, amount)


def test_an_order_trigger_fires_from_its_minimum_amount_up() -> None:
    trigger = Trigger("t", "order.completed", ("k",), min_amount=5000)
    assert not fires(trigger, order(4999))
    assert fires(trigger, order(5000))
    assert not fires(trigger, order(None))


def test_an_order_trigger_without_a_minimum_fires_for_every_order() -> None:
    assert fires(Trigger("t", "order.completed", ("k",)), order(0))


def test_a_trigger_never_fires_for_another_event() -> None:
    trigger = Trigger("t", "customer.created", ("k",))
    assert not fires(trigger, order(100))
    assert fires(trigger, Occurrence("customer.created", "c1", "", NOW))


def test_birthdays_and_anniversaries_count_per_year_other_triggers_over_their_life() -> None:
    birthday = Trigger("t", "birthday", ("k",))
    assert period(birthday, Occurrence("birthday", "c1", "2026", NOW)) == "2026"
    assert period(Trigger("t", "order.completed", ("k",)), order(1)) == ""


def test_the_same_order_is_the_same_occasion_and_another_order_another() -> None:
    assert occasion(order(1, "o1")) == occasion(order(2, "o1"))
    assert occasion(order(1, "o1")) != occasion(order(1, "o2"))


def test_a_29_february_birthday_is_celebrated_on_the_28th_in_other_years() -> None:
    assert is_birthday("2000-02-29", date(2027, 2, 28))
    assert not is_birthday("2000-02-29", date(2028, 2, 28))
    assert is_birthday("2000-02-29", date(2028, 2, 29))
    assert is_birthday("1990-06-15", date(2026, 6, 15))
    assert not is_birthday(None, date(2026, 6, 15))


def test_an_anniversary_is_the_sign_up_day_of_a_later_year_only() -> None:
    signed = datetime(2025, 6, 15, 23, tzinfo=UTC)
    assert is_anniversary(signed, date(2026, 6, 15))
    assert not is_anniversary(signed, date(2025, 6, 15))
    assert not is_anniversary(signed, date(2026, 6, 16))


def test_a_coupon_ends_at_the_earlier_of_its_campaign_end_and_its_relative_validity() -> None:
    issued = datetime(2026, 6, 1, tzinfo=UTC)
    assert coupon_ends({"days_after_issue": 7}, issued) == issued + timedelta(days=7)
    assert coupon_ends({"days_after_issue": 7, "ends_at": "2026-06-03T00:00:00+00:00"}, issued) == datetime(
        2026, 6, 3, tzinfo=UTC
    )
    assert coupon_ends({}, issued) is None


SECOND = Trigger("t2", "welcome.unused", ("k",), after_trigger_id="t1", days=7)
FIRST_AT = NOW - timedelta(days=8)
EXPIRED = PackageCoupon(NOW - timedelta(days=1), used=False)


def test_the_second_package_is_due_when_the_first_expired_unused_and_there_is_no_order() -> None:
    assert welcome_unused_due(SECOND, FIRST_AT, [EXPIRED, EXPIRED], orders=0, now=NOW)


@pytest.mark.parametrize(
    ("package", "orders", "first_at"),
    [
        ([EXPIRED, PackageCoupon(NOW - timedelta(days=1), used=True)], 0, FIRST_AT),  # one was used
        ([EXPIRED, PackageCoupon(NOW + timedelta(days=1), used=False)], 0, FIRST_AT),  # one still valid
        ([EXPIRED, PackageCoupon(None, used=False)], 0, FIRST_AT),  # one never expires
        ([EXPIRED], 1, FIRST_AT),  # an order came
        ([EXPIRED], 0, NOW - timedelta(days=6)),  # too early
        ([], 0, FIRST_AT),  # no first package
    ],
)
def test_the_second_package_is_not_due_otherwise(
    package: list[PackageCoupon], orders: int, first_at: datetime
) -> None:
    assert not welcome_unused_due(SECOND, first_at, package, orders=orders, now=NOW)


def test_a_trigger_body_is_checked_field_by_field() -> None:
    ok = check_trigger({"event": "order.completed", "campaign_ids": ["a"], "min_amount": 100})
    assert ok["per_customer"] == 1
    for body, field in [
        ({"event": "nope", "campaign_ids": ["a"]}, "event"),
        ({"event": "birthday", "campaign_ids": []}, "campaign_ids"),
        ({"event": "birthday", "campaign_ids": ["a", "a"]}, "campaign_ids"),
        ({"event": "birthday", "campaign_ids": ["a"], "min_amount": 5}, "min_amount"),
        ({"event": "birthday", "campaign_ids": ["a"], "per_customer": 0}, "per_customer"),
        ({"event": "welcome.unused", "campaign_ids": ["a"], "days": 3}, "after_trigger_id"),
        ({"event": "welcome.unused", "campaign_ids": ["a"], "after_trigger_id": "t"}, "days"),
        ({"event": "birthday", "campaign_ids": ["a"], "days": 3}, "days"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            check_trigger(body)
        assert caught.value.field == field, body
