from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from couponry.domain import codes
from couponry.domain.codes import (
    ALPHABET,
    CodeConfig,
    check_code_space,
    generate,
    generate_iter,
    normalize,
    normalize_generated,
    symbols,
)
from couponry.domain.errors import CodeSpaceTooSmall, InvalidInput

# chi-square with 30 degrees of freedom exceeds this with probability about one in a million
CHI_SQUARE_30_DOF_P_1E6 = 82.0


def test_the_alphabet_has_31_distinct_characters_without_look_alikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)
    assert set(ALPHABET) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_normalize_ignores_case_and_separators() -> None:
    assert normalize("summer-abcd 23_xy.z") == "SUMMERABCD23XYZ"
    assert normalize(" welcome10 ") == normalize("WELCOME-10") == "WELCOME10"


@pytest.mark.parametrize("code", ["", "  ", "--__", "A" * 65])
def test_normalize_refuses_empty_and_overlong_codes(code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize(code)
    assert refused.value.field == "code"


def test_a_code_of_64_characters_plus_separators_is_accepted() -> None:
    assert normalize("-".join(["ABCD"] * 16)) == "ABCD" * 16


def test_generated_codes_have_the_configured_length_and_only_alphabet_characters() -> None:
    codes = generate(CodeConfig(length=12), 1000)
    assert len(codes) == 1000
    assert all(len(code) == 12 and set(code) <= set(ALPHABET) for code in codes)


def test_prefix_and_suffix_surround_the_random_part() -> None:
    codes = generate(CodeConfig.from_dict({"length": 8, "prefix": "SUMMER-", "suffix": "_X"}), 100)
    assert all(re.fullmatch(rf"SUMMER-[{ALPHABET}]{{8}}_X", code) for code in codes)


@pytest.mark.parametrize("pattern", ["####-####-####", "A#B#C#D#E#F#", "##-##_##-##"])
def test_a_pattern_replaces_each_hash_with_one_random_character(pattern: str) -> None:
    config = CodeConfig.from_dict({"pattern": pattern})
    expected = re.escape(pattern).replace("\\#", "#").replace("#", f"[{ALPHABET}]")
    assert config.random_positions == pattern.count("#")
    assert all(re.fullmatch(expected, code) for code in generate(config, 200))


def test_the_space_counts_only_random_positions() -> None:
    assert CodeConfig(length=12, prefix="AB").space == 31**12
    assert CodeConfig.from_dict({"pattern": "XX-####", "prefix": "P"}).space == 31**4


def test_the_byte_mapping_gives_every_character_the_same_share_of_the_byte_values() -> None:
    mapped = symbols(bytes(range(256)))
    assert len(mapped) == 248  # bytes 248..255 are dropped: they would favour the first 8 characters
    assert set(Counter(mapped).values()) == {8}


def test_generated_characters_are_uniformly_distributed() -> None:
    # given 240,000 random characters, 7,742 expected per character
    counts = Counter("".join(generate(CodeConfig(length=12), 20_000)))
    expected = 20_000 * 12 / 31
    # then the chi-square statistic is within what chance allows
    chi_square = sum((counts[ch] - expected) ** 2 / expected for ch in ALPHABET)
    assert chi_square < CHI_SQUARE_30_DOF_P_1E6


def test_generate_iter_yields_bounded_batches_adding_up_to_the_count() -> None:
    batches = list(generate_iter(CodeConfig(), 25_001, batch=10_000))
    assert [len(batch) for batch in batches] == [10_000, 10_000, 5_001]


def test_generated_codes_normalize_fast_exactly_as_normalize_does() -> None:
    config = CodeConfig.from_dict({"pattern": "ab-##_##", "suffix": "-z"})
    assert not config.display_is_normalized
    assert all(normalize_generated(code) == normalize(code) for code in generate(config, 100))
    assert CodeConfig(prefix="SUMMER").display_is_normalized


def test_code_space_too_small_is_refused_below_a_thousand_codes_per_code_requested() -> None:
    config = CodeConfig.from_dict({"pattern": "####"})  # 923,521 codes
    check_code_space(config, 923)
    with pytest.raises(CodeSpaceTooSmall) as refused:
        check_code_space(config, 924)
    assert refused.value.code == "code_space_too_small"
    assert refused.value.field == "code_config"


def test_missing_code_config_means_twelve_random_characters() -> None:
    assert CodeConfig.from_dict(None) == CodeConfig.from_dict({}) == CodeConfig(length=12)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"length": 5}, "code_config.length"),
        ({"length": 33}, "code_config.length"),
        ({"length": "12"}, "code_config.length"),
        ({"pattern": "ABC-DEF"}, "code_config.pattern"),
        ({"pattern": "AB C-###"}, "code_config.pattern"),
        ({"prefix": "SUM MER"}, "code_config.prefix"),
        ({"suffix": "10%"}, "code_config.suffix"),
        ({"prefix": "P" * 40, "length": 30}, "code_config"),
        ({"lenght": 12}, "code_config.lenght"),
    ],
)
def test_an_invalid_code_config_is_refused_naming_the_field(config: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        CodeConfig.from_dict(config)
    assert refused.value.field == field


def test_normalize_folds_fullwidth_forms_onto_ascii() -> None:
    assert normalize("ＳＵＭＭＥＲ２５") == normalize("SUMMER25") == "SUMMER25"


@pytest.mark.parametrize("code", ["СУММЕР25", "SUMMER\x0025", "SUMMER\n25", "ÉTÉ", "A\u200bB", "🎉25"])
def test_normalize_refuses_anything_but_ascii_letters_digits_and_separators(code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize(code)
    assert refused.value.field == "code"


@given(st.text(max_size=80))
def test_a_normalized_code_is_only_ascii_capitals_and_digits(code: str) -> None:
    try:
        normalized = normalize(code)
    except InvalidInput:
        return
    assert normalized.isascii() and normalized.isalnum() and normalized == normalized.upper()
    assert normalize(normalized) == normalized


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_. ", min_size=1, max_size=64))
def test_every_ascii_code_folds_like_its_fullwidth_twin(code: str) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in code)
    try:
        expected = normalize(code)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            normalize(fullwidth)
        return
    assert normalize(fullwidth) == expected


def _either(normalizer: object, code: str) -> str:
    try:
        return normalizer(code)  # type: ignore[operator]
    except InvalidInput as refused:
        return f"refused: {refused}"


@given(st.one_of(st.text(max_size=80), st.text(alphabet=string.ascii_letters + string.digits, max_size=80)))
def test_normalize_answers_a_plain_code_as_the_full_folding_does(code: str) -> None:
    assert _either(normalize, code) == _either(codes._normalized, code)
