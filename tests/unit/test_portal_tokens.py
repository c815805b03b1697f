"""Portal tokens: they name one customer until they expire, and any change to them is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from couponry.services.distribution.portal import portal_token, read_portal_token

KEY = b"k" * 32
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)


def test_a_token_names_its_customer_until_it_expires() -> None:
    token = portal_token(KEY, "c-42", LATER)
    visit = read_portal_token(KEY, token, NOW)
    assert visit is not None and visit.customer_id == "c-42" and visit.expires_at == LATER
    assert read_portal_token(KEY, token, LATER - timedelta(seconds=1)) is not None
    assert read_portal_token(KEY, token, LATER) is None


def test_a_token_of_another_key_is_refused() -> None:
    assert read_portal_token(b"other" * 8, portal_token(KEY, "c-42", LATER), NOW) is None


def test_a_customer_id_with_dots_and_unicode_survives_the_round_trip() -> None:
    visit = read_portal_token(KEY, portal_token(KEY, "a.b ø/é", LATER), NOW)
    assert visit is not None and visit.customer_id == "a.b ø/é"


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changing_any_part_of_a_token_refuses_it(part: int) -> None:
    token = portal_token(KEY, "c-42", LATER)
    pieces = token.split(".")
    if part == 1:
        pieces[1] = str(int(pieces[1]) + 86400)  # a longer life
    elif part == 0:
        pieces[0] = portal_token(KEY, "c-43", LATER).split(".")[0]  # another customer
    else:
        pieces[2] = ("A" if pieces[2][0] != "A" else "B") + pieces[2][1:]
    assert read_portal_token(KEY, ".".join(pieces), NOW) is None


@pytest.mark.parametrize(
    "garbage", ["", "a.b", "a.b.c.d", "!!.1.!!", "YQ.notanumber.AAAA", "YQ.1" + "0" * 20 + ".AA"]
)
def test_garbage_is_refused_without_an_error(garbage: str) -> None:
    assert read_portal_token(KEY, garbage, NOW) is None
