"""Referral codes: 14 characters of the alphabet after `r-`, every character equally likely in every
position (one draw among all codes, written in the alphabet: services.customers.profiles)."""

from __future__ import annotations

from collections import Counter

from scipy.stats import chisquare

from couponry.services.customers.profiles import REFERRAL_ALPHABET, REFERRAL_LENGTH, new_referral_code


def test_a_referral_code_is_r_dash_and_fourteen_characters_of_the_alphabet() -> None:
    for _ in range(1000):
        code = new_referral_code()
        assert code[:2] == "r-" and len(code) == 2 + REFERRAL_LENGTH
        assert set(code[2:]) <= set(REFERRAL_ALPHABET)


def test_every_character_is_equally_likely_in_the_first_middle_and_last_positions() -> None:
    codes = [new_referral_code()[2:] for _ in range(31 * 400)]
    for position in (0, REFERRAL_LENGTH // 2, REFERRAL_LENGTH - 1):
        seen = Counter(code[position] for code in codes)
        observed = [seen[c] for c in REFERRAL_ALPHABET]
        assert chisquare(observed).pvalue > 1e-4, (position, observed)


def test_codes_do_not_repeat() -> None:
    codes = [new_referral_code() for _ in range(20_000)]
    assert len(set(codes)) == len(codes)
