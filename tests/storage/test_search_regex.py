"""The regex built for a search literal always fits the database's pattern cap."""

from __future__ import annotations

import re
import sys

import pytest

from storage.conversations import (
    MAX_LITERAL_LENGTH,
    MAX_REGEX_PATTERN_LENGTH,
    substring_regex,
)


def test_no_character_escapes_to_more_than_two() -> None:
    # Every code point (surrogates cannot reach a query: BSON refuses them).
    worst = max(
        len(re.escape(chr(c))) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000
    )
    assert worst == 2
    assert MAX_LITERAL_LENGTH * worst <= MAX_REGEX_PATTERN_LENGTH


@pytest.mark.parametrize("char", [".", "(", "\\", "\n", " ", "\U0001f600", "\u00e9"])
def test_the_longest_literal_fits_the_pattern_cap(char: str) -> None:
    pattern = substring_regex(char * MAX_LITERAL_LENGTH)["$regex"]
    assert len(pattern) <= MAX_REGEX_PATTERN_LENGTH
    assert len(pattern.encode()) <= 32_764  # MongoDB's cap, in bytes
    assert re.fullmatch(pattern, char * MAX_LITERAL_LENGTH)


def test_a_longer_literal_is_refused_before_any_query() -> None:
    with pytest.raises(ValueError):
        substring_regex("." * (MAX_LITERAL_LENGTH + 1))
