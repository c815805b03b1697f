"""Every mail template renders a subject, a plain-text part and an escaped HTML part."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from couponry.services.messaging.compose import (
    TEMPLATES,
    build_message,
    describe_discount,
    format_money,
    render,
)

BASE = {
    "customer": {"id": "c1", "name": "Ann <b>", "email": "ann@example.com"},
    "unsubscribe_url": "https://shop.example/unsubscribe/TOKEN",
    "coupon": {
        "code": "SAVE-15",
        "campaign_name": "Autumn",
        "discount": "15% off",
        "ends_at": "2026-12-01 00:00 UTC",
    },
    "days_left": 1,
    "month": "2026-11",
    "available": 120,
    "pending": 40,
    "expiring_soon": [{"points": 10, "expires_at": "2026-12-31"}],
}


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_has_a_subject_a_text_part_and_an_escaped_html_part(template: str) -> None:
    subject, text, html = render(template, BASE)
    assert subject and "\n" not in subject
    assert (
        "https://shop.example/unsubscribe/TOKEN" in text and "https://shop.example/unsubscribe/TOKEN" in html
    )
    assert "<" not in text.replace("Ann <b>", "")  # the text part is not HTML
    assert "Ann <b>" not in html  # customer data is escaped in HTML
    if template != "points_statement":
        assert "SAVE-15" in text and "SAVE-15" in html
    else:
        assert "120" in text and "120" in html


def test_the_expiring_subject_says_when() -> None:
    assert render("expiring_soon", {**BASE, "days_left": 1})[0] == "Your coupon expires tomorrow"
    assert render("expiring_soon", {**BASE, "days_left": 3})[0] == "Your coupon expires in 3 days"


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mail template"):
        render("newsletter", BASE)


def test_discounts_and_money_read_as_a_customer_expects() -> None:
    assert format_money(1050, "USD") == "10.50 USD" and format_money(500, "JPY") == "500 JPY"
    assert describe_discount({"type": "percent", "percent": "12.5", "max_amount": 2000}, "EUR") == (
        "12.5% off (up to 20.00 EUR)"
    )
    assert describe_discount({"type": "free_shipping"}, "USD") == "free shipping"


def test_a_message_carries_one_click_unsubscribe_headers_and_a_stable_message_id() -> None:
    message = build_message(
        message_id="abc123",
        sender="Shop <news@shop.example>",
        recipient="ann@example.com",
        recipient_name="Ann",
        subject="Hi",
        text="plain",
        html="<p>html</p>",
        unsubscribe_url="https://shop.example/unsubscribe/T",
        date=datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert message["Message-ID"] == "<abc123@shop.example>"
    assert message["List-Unsubscribe"] == "<https://shop.example/unsubscribe/T>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
