import pytest

from resolvers.titles.clean import TITLE_MAX_CHARS, clean_title


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('  "Cooking pasta"  ', "Cooking pasta"),
        ("'Cooking pasta'", "Cooking pasta"),
        ("`Cooking pasta`", "Cooking pasta"),
        ("“Cooking pasta”", "Cooking pasta"),
        ("«Борщ по-украински»", "Борщ по-украински"),
        ("「パスタの作り方」", "パスタの作り方"),
        ("**Cooking pasta**", "Cooking pasta"),
        ('"Cooking pasta', "Cooking pasta"),
    ],
)
def test_clean_title_strips_surrounding_quotes_backticks_and_emphasis(
    raw: str, expected: str
) -> None:
    assert clean_title(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["Title: Cooking pasta", "title:Cooking pasta", "Suggested title - Cooking pasta",
     '## Title: "Cooking pasta"', "Titel: Cooking pasta", "- Cooking pasta", "1. Cooking pasta"],
)  # fmt: skip
def test_clean_title_strips_labels_and_markdown_marks(raw: str) -> None:
    assert clean_title(raw) == "Cooking pasta"


def test_clean_title_keeps_a_word_that_only_starts_like_a_label() -> None:
    assert clean_title("Title-case converter") == "Title-case converter"


def test_clean_title_collapses_whitespace_and_control_characters() -> None:
    assert clean_title("Cooking \t  pasta\u00a0 at\x00home") == "Cooking pasta at home"


def test_clean_title_keeps_only_the_first_non_empty_line() -> None:
    assert clean_title("\n\nCooking pasta\nThis title fits because...") == "Cooking pasta"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Cooking pasta.", "Cooking pasta"),
        ('"Cooking pasta."', "Cooking pasta"),
        ('"Cooking pasta".', "Cooking pasta"),
        ("Cooking pasta…", "Cooking pasta"),
        ("パスタの作り方。", "パスタの作り方"),
        ("Cooking pasta:", "Cooking pasta"),
    ],
)
def test_clean_title_drops_trailing_sentence_punctuation(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


def test_clean_title_keeps_a_question_mark() -> None:
    assert clean_title("What is a monad?") == "What is a monad?"


def test_clean_title_cuts_long_titles_at_a_word_boundary_without_ellipsis() -> None:
    raw = " ".join(["pasta"] * 40)
    title = clean_title(raw)
    assert len(title) <= TITLE_MAX_CHARS
    assert title.split() == ["pasta"] * len(title.split())
    assert not title.endswith(("…", "..."))


def test_clean_title_cuts_a_single_long_word_hard() -> None:
    assert clean_title("x" * 200) == "x" * TITLE_MAX_CHARS


def test_clean_title_never_separates_a_letter_from_its_combining_mark() -> None:
    # "q̇" has no precomposed form: q + U+0307, so NFC keeps two code points.
    raw = "q\u0307" * 60
    title = clean_title(raw)
    assert len(title) <= TITLE_MAX_CHARS
    assert title == "q\u0307" * (len(title) // 2)


def test_clean_title_never_splits_a_flag_emoji() -> None:
    raw = "a" + "\U0001f1e9\U0001f1ea" * 60  # "a" then German flags
    title = clean_title(raw)
    assert len(title) <= TITLE_MAX_CHARS
    assert (len(title) - 1) % 2 == 0


def test_clean_title_never_splits_a_joined_emoji_sequence() -> None:
    programmer = "\U0001f469\u200d\U0001f4bb"
    title = clean_title("a" * 78 + programmer + "b")
    assert title == "a" * 78


def test_clean_title_keeps_non_latin_scripts_as_written() -> None:
    assert clean_title("  Как приготовить борщ  ") == "Как приготовить борщ"
    assert clean_title("Wie funktioniert ein Motor?") == "Wie funktioniert ein Motor?"


@pytest.mark.parametrize("raw", ["", "   ", '""', "``", "Title:", "...", "\n\n"])
def test_clean_title_returns_empty_when_nothing_usable_is_left(raw: str) -> None:
    assert clean_title(raw) == ""
