"""A campaign's discount and terms in words: every discount type, every condition a shopper must know."""

from __future__ import annotations

from datetime import UTC, datetime, time
from fractions import Fraction

import pytest

from couponry.domain.reasons import Reason
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    Conditions,
    FreeShipping,
    Limits,
    PercentOff,
    Scope,
    Tier,
    Tiered,
    TimeWindow,
    Validity,
)
from couponry.domain.wording import (
    REASON_WORDS,
    describe_discount,
    describe_terms,
    format_amount,
    parse_amount,
    reason_words,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NEW_YEAR = datetime(2027, 1, 1, tzinfo=UTC)


def rules(benefit: Benefit, currency: str = "USD", **parts: object) -> CampaignRules:
    return CampaignRules(id="c", currency=currency, benefit=benefit, **parts)  # type: ignore[arg-type]


def test_the_example_of_the_issue_reads_as_written() -> None:
    spend_50 = rules(
        AmountOff(1000), conditions=Conditions(min_spend=5000), validity=Validity(ends_at=NEW_YEAR)
    )
    assert describe_terms(spend_50, now=NOW) == "10.00 off orders of 50.00 or more, until 31 Dec"


@pytest.mark.parametrize(
    ("benefit", "words"),
    [
        (AmountOff(1000), "10.00 off"),
        (AmountPerItem(500), "5.00 off each item"),
        (AmountPerItem(500, max_items=3), "5.00 off each item (up to 3 items)"),
        (PercentOff(Fraction(15)), "15% off"),
        (PercentOff(Fraction(25, 2), max_amount=2000), "12.5% off (up to 20.00)"),
        (PercentOff(Fraction(50), max_items=1), "50% off the cheapest item"),
        (PercentOff(Fraction(10), max_items=2), "10% off the 2 cheapest items"),
        (FreeShipping(), "free shipping"),
        (FreeShipping(max_amount=500), "free shipping (up to 5.00)"),
        (Tiered((Tier(10000, 1000), Tier(20000, 2500))), "up to 25.00 off"),
    ],
)
def test_every_discount_type_has_words(benefit: Benefit, words: str) -> None:
    assert describe_discount(benefit, "USD") == words


@pytest.mark.parametrize(
    ("campaign", "terms"),
    [
        (rules(AmountOff(1000)), "10.00 off your order"),
        (rules(AmountOff(1000), scope=Scope(categories=frozenset({"shoes"}))), "10.00 off shoes"),
        (
            rules(
                AmountOff(1000),
                scope=Scope(categories=frozenset({"shoes"})),
                conditions=Conditions(min_spend=5000),
            ),
            "10.00 off shoes, when they come to 50.00 or more",
        ),
        (
            rules(PercentOff(Fraction(15), max_amount=2000), conditions=Conditions(min_spend=5000)),
            "15% off orders of 50.00 or more, at most 20.00 off",
        ),
        (
            rules(AmountPerItem(300, max_items=2), scope=Scope(brands=frozenset({"acme"}))),
            "3.00 off each item (up to 2 items) on acme items",
        ),
        (
            rules(
                FreeShipping(),
                conditions=Conditions(min_spend=5000, shipping_countries=frozenset({"SE", "NO"})),
            ),
            "free shipping, on orders of 50.00 or more, shipping to NO and SE only",
        ),
        (
            rules(Tiered((Tier(20000, 2500), Tier(10000, 1000)))),
            "10.00 off orders of 100.00 or more; 25.00 off orders of 200.00 or more",
        ),
        (
            rules(AmountOff(500), scope=Scope(exclude_on_sale=True, exclude_brands=frozenset({"zeta"}))),
            "5.00 off your order, not on zeta items or items on sale",
        ),
        (
            rules(AmountOff(500), conditions=Conditions(min_quantity=3, first_order_only=True)),
            "5.00 off your order, when buying at least 3 items, on a first order only",
        ),
        (
            rules(
                AmountOff(500),
                conditions=Conditions(channels=frozenset({"pos"})),
                limits=Limits(per_customer=1),
            ),
            "5.00 off your order, in shops only, once per customer",
        ),
        (
            rules(
                AmountOff(500),
                conditions=Conditions(channels=frozenset({"online"}), customer_tags=frozenset({"vip"})),
            ),
            "5.00 off your order, for selected customers, online only",
        ),
        (
            rules(
                PercentOff(Fraction(15)),
                conditions=Conditions(
                    time_windows=(
                        TimeWindow(frozenset({"mon", "tue", "wed", "thu", "fri"}), time(14), time(17)),
                    )
                ),
            ),
            "15% off your order, Mon–Fri 14:00–17:00",
        ),
        (
            rules(
                AmountOff(500),
                conditions=Conditions(
                    time_windows=(TimeWindow(frozenset({"sat", "sun"}), time(9), time(12), "Europe/Oslo"),)
                ),
            ),
            "5.00 off your order, Sat, Sun 09:00–12:00 (Europe/Oslo)",
        ),
        (
            rules(AmountOff(500), validity=Validity(days_after_issue=30)),
            "5.00 off your order, for 30 days after it is issued",
        ),
        (
            rules(
                AmountOff(500),
                validity=Validity(
                    starts_at=datetime(2026, 12, 1, tzinfo=UTC), ends_at=datetime(2028, 1, 1, tzinfo=UTC)
                ),
            ),
            "5.00 off your order, from 1 Dec, until 31 Dec 2027",
        ),
        (rules(AmountOff(500), currency="JPY"), "500 off your order"),
    ],
)
def test_terms_name_every_condition_a_shopper_must_know(campaign: CampaignRules, terms: str) -> None:
    assert describe_terms(campaign, now=NOW) == terms


def test_a_coupon_page_dates_a_relative_validity_by_its_coupon() -> None:
    campaign = rules(AmountOff(500), validity=Validity(days_after_issue=30))
    ends = datetime(2026, 12, 26, 12, 0, tzinfo=UTC)
    assert describe_terms(campaign, now=NOW, ends_at=ends) == "5.00 off your order, until 26 Dec"


def test_a_start_already_passed_is_not_mentioned() -> None:
    campaign = rules(AmountOff(500), validity=Validity(starts_at=datetime(2026, 1, 1, tzinfo=UTC)))
    assert describe_terms(campaign, now=NOW) == "5.00 off your order"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(1000, "USD", "10.00"), (123456789, "EUR", "1,234,567.89"), (5, "USD", "0.05"), (1000, "JPY", "1,000"),
     (1234, "KWD", "1.234"), (-250, "USD", "-2.50")],
)  # fmt: skip
def test_amounts_are_written_with_their_currencys_decimals(amount: int, currency: str, text: str) -> None:
    assert format_amount(amount, currency) == text


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [("12.5", "USD", 1250), ("12,50", "USD", 1250), ("1,200.00", "USD", 120000), ("1 200", "JPY", 1200),
     ("7", "USD", 700), (" 0.99 ", "USD", 99), ("12.", "USD", 1200)],
)  # fmt: skip
def test_an_amount_typed_at_the_till_becomes_minor_units(typed: str, currency: str, minor: int) -> None:
    assert parse_amount(typed, currency) == minor


@pytest.mark.parametrize("typed", ["", "abc", "-1", "1e3", "nan", "1.234", "12.5.1", "9" * 16])
def test_what_is_not_an_amount_is_refused(typed: str) -> None:
    assert parse_amount(typed, "USD") is None


def test_every_refusal_reason_has_words_for_people() -> None:
    assert set(REASON_WORDS) == set(Reason)
    spend_50 = rules(AmountOff(1000), conditions=Conditions(min_spend=5000))
    assert (
        reason_words(Reason.MIN_SPEND_NOT_MET, spend_50) == "The amount is below the minimum spend of 50.00."
    )
    tiered = rules(Tiered((Tier(20000, 2500), Tier(10000, 1000))))
    assert (
        reason_words(Reason.MIN_SPEND_NOT_MET, tiered) == "The amount is below the minimum spend of 100.00."
    )
    three = rules(AmountOff(100), conditions=Conditions(min_quantity=3))
    assert reason_words(Reason.MIN_QUANTITY_NOT_MET, three) == "This coupon needs at least 3 items."
    assert reason_words(Reason.EXPIRED, spend_50) == "This coupon has expired."
