"""Coupon codes: the alphabet, normalisation, a campaign's code_config and fast unbiased generation.

A code is a bearer secret, so generation draws from `secrets`. Characters are drawn in bulk: one
`secrets.token_bytes` call per batch, mapped through the alphabet with `bytes.translate` (about 50
times faster than `secrets.choice` per character). The alphabet has 31 characters, so bytes >= 248
(= 8 * 31) are deleted before mapping `b -> ALPHABET[b % 31]`; every character then has probability
exactly 1/31.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from couponry.domain.errors import CodeSpaceTooSmall, InvalidInput

# Digits and capitals without the look-alikes 0/O and 1/I/L.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_CODE_LENGTH = 64  # the width of coupons.code and coupons.display_code
GUESS_FACTOR = 1000  # the space must hold 1,000 codes for each one issued (shared/API.md)
RANDOM_CHAR = "#"

_USABLE = 256 - 256 % len(ALPHABET)  # 248
_TO_SYMBOL = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
_BIASED = bytes(range(_USABLE, 256))
_LITERAL = re.compile(r"[A-Za-z0-9_-]*")
_SEPARATORS = str.maketrans("", "", "-_")
CODE_SEPARATORS = "-_. "
_CODE_CHARACTERS = frozenset(string.ascii_letters + string.digits + CODE_SEPARATORS)
_DROP_SEPARATORS = str.maketrans("", "", CODE_SEPARATORS)


def normalize(code: str) -> str:
    """The form codes are stored and matched in: upper case, ASCII letters and digits only.

    Compatibility forms are folded first (NFKC: fullwidth `ＳＵＭＭＥＲ２５` is `SUMMER25`), so a
    look-alike cannot be issued beside the code it imitates. What is still not ASCII letters, digits
    or the separators '-', '_', '.' and space after that (Cyrillic `С`, a NUL byte ...) is refused:
    codes are typed by people from print and screens, and a code that looks like another is a trap.
    """
    if code.isascii() and code.isalnum() and len(code) <= MAX_CODE_LENGTH:
        return code.upper()  # the common case, as _normalized gives it: nothing to fold, drop or refuse
    return _normalized(code)


def _normalized(code: str) -> str:
    folded = unicodedata.normalize("NFKC", code)
    stray = next((ch for ch in folded if ch not in _CODE_CHARACTERS), None)
    if stray is not None:
        raise InvalidInput(
            "code",
            f"may only contain ASCII letters, digits and the separators - _ . and space ({stray!r} is not)",
        )
    normalized = folded.translate(_DROP_SEPARATORS).upper()
    if not normalized:
        raise InvalidInput("code", "must contain at least one letter or digit")
    if len(normalized) > MAX_CODE_LENGTH:
        raise InvalidInput("code", f"must have at most {MAX_CODE_LENGTH} letters and digits")
    return normalized


def display_form(code: str) -> str:
    """How an issued vanity code is shown back: as typed, in its NFKC form, without outer spaces."""
    return unicodedata.normalize("NFKC", code).strip()


def symbols(random_bytes: bytes) -> str:
    """Map random bytes to alphabet characters without bias (fewer characters than bytes come out)."""
    return random_bytes.translate(_TO_SYMBOL, _BIASED).decode("ascii")


def random_symbols(n: int) -> str:
    """`n` uniformly random alphabet characters from one or (rarely) a few token_bytes calls."""
    out: list[str] = []
    missing = n
    while missing > 0:
        # 248/256 of bytes survive; ask for a little more so one call nearly always suffices
        chunk = symbols(secrets.token_bytes(missing + missing // 25 + 64))[:missing]
        out.append(chunk)
        missing -= len(chunk)
    return "".join(out)


@dataclass(frozen=True)
class CodeConfig:
    """How a campaign's generated codes look: `length` random characters between prefix and suffix,
    or a `pattern` (itself between prefix and suffix) in which each '#' is one random character."""

    length: int = 12
    prefix: str = ""
    suffix: str = ""
    pattern: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CodeConfig:
        data = dict(data or {})
        unknown = set(data) - {"length", "prefix", "suffix", "pattern"}
        if unknown:
            raise InvalidInput(f"code_config.{sorted(unknown)[0]}", "unknown field")
        length = data.get("length", 12)
        prefix = _literal("prefix", data.get("prefix") or "")
        suffix = _literal("suffix", data.get("suffix") or "")
        pattern = data.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str) or RANDOM_CHAR not in pattern:
                raise InvalidInput("code_config.pattern", "must contain at least one '#'")
            _literal("pattern", pattern.replace(RANDOM_CHAR, ""))
            length = pattern.count(RANDOM_CHAR)
        elif isinstance(length, bool) or not isinstance(length, int) or not 6 <= length <= 32:
            raise InvalidInput("code_config.length", "must be an integer from 6 to 32")
        config = cls(length=length, prefix=prefix, suffix=suffix, pattern=pattern)
        if len(config.template) > MAX_CODE_LENGTH:
            raise InvalidInput("code_config", f"codes would be longer than {MAX_CODE_LENGTH} characters")
        return config

    @property
    def template(self) -> str:
        """The whole display code with '#' for each random character."""
        body = self.pattern if self.pattern is not None else RANDOM_CHAR * self.length
        return self.prefix + body + self.suffix

    @property
    def random_positions(self) -> int:
        return self.template.count(RANDOM_CHAR)

    @property
    def space(self) -> int:
        """How many different codes this config can produce."""
        return len(ALPHABET) ** self.random_positions

    @property
    def display_is_normalized(self) -> bool:
        """True when display codes are already in stored form (no separators, no lower case)."""
        literals = self.template.replace(RANDOM_CHAR, "")
        return literals == normalize_generated(literals)


def _literal(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _LITERAL.fullmatch(value):
        allowed = "letters, digits, '-', '_'" + (" and '#'" if field == "pattern" else "")
        raise InvalidInput(f"code_config.{field}", f"may only contain {allowed}")
    return value


def normalize_generated(display_code: str) -> str:
    """`normalize` for strings of letters, digits, '-' and '_' only (all generated codes), but faster."""
    return display_code.translate(_SEPARATORS).upper()


def check_code_space(config: CodeConfig, count: int) -> None:
    """Refuse configs too small for `count` codes: guessable, and unable to stay unique."""
    if config.space < GUESS_FACTOR * count:
        raise CodeSpaceTooSmall(
            "code_config",
            f"{config.random_positions} random characters give {config.space:,} possible codes; "
            f"{count:,} codes need at least {GUESS_FACTOR * count:,}",
        )


def generate(config: CodeConfig, n: int) -> list[str]:
    """`n` display codes (duplicates are possible, if unlikely: the database judges uniqueness)."""
    k = config.random_positions
    drawn = random_symbols(n * k)
    parts = config.template.split(RANDOM_CHAR * k) if RANDOM_CHAR * k in config.template else None
    if parts is not None and len(parts) == 2:  # one run of random characters: slice it out whole
        head, tail = parts
        return [head + drawn[i : i + k] + tail for i in range(0, n * k, k)]
    fmt = config.template.replace(RANDOM_CHAR, "%s")
    return [fmt % tuple(drawn[i : i + k]) for i in range(0, n * k, k)]


def generate_iter(config: CodeConfig, n: int, batch: int = 50_000) -> Iterator[list[str]]:
    """`n` display codes in lists of at most `batch`, so no caller needs to hold them all."""
    if batch < 1:
        raise ValueError("batch must be positive")
    for start in range(0, n, batch):
        yield generate(config, min(batch, n - start))
