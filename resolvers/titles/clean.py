"""Turn whatever a generator produced into a title fit for the sidebar."""

from __future__ import annotations

import re
import unicodedata

TITLE_MAX_CHARS = 80
"""Longest title kept; LibreChat's sidebar shows about 30-40 characters."""

# Pairs a model or a person wraps a title in. Straight quotes pair with themselves.
_WRAPPERS = {
    '"': '"',
    "'": "'",
    "`": "`",
    "*": "*",
    "_": "_",
    "\u201c": "\u201d",  # “ ”
    "\u201e": "\u201c",  # „ “ (German)
    "\u2018": "\u2019",  # ‘ ’
    "\u00ab": "\u00bb",  # « »
    "\u300c": "\u300d",  # 「 」
    "\u300e": "\u300f",  # 『 』
}
# Quote characters stripped even when unpaired (a model that opened but never closed).
_QUOTES = "\"'`\u201c\u201d\u201e\u2018\u2019\u00ab\u00bb\u300c\u300d\u300e\u300f"

_LABEL = re.compile(
    r"^(?:(?:suggested|conversation|chat|short|generated)\s+)?"
    r"(?:title|titel|titre|título|titolo|заголовок|название|タイトル|标题|標題)"
    r"(?:\s*[:：]|\s+[-–—])\s*",
    re.IGNORECASE,
)
_MARKDOWN_LEAD = re.compile(r"^(?:#{1,6}\s+|[-*+•]\s+|>\s*|\d{1,2}[.)]\s+)+")
# Trailing marks that end sentences, not titles. "?" and "!" stay: a question
# is a fine title ("What is a monad?").
_TRAILING = ".,;:…。，、；：-–—~ "
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # ZWJ and variation selectors glue emoji.


def clean_title(raw: str, *, max_chars: int = TITLE_MAX_CHARS) -> str:
    """Normalise a generated title.

    Keeps the first non-empty line, strips a "Title:" label, markdown
    heading or bullet marks, surrounding quotes, backticks and emphasis,
    collapses whitespace, drops trailing sentence punctuation and cuts the
    result to ``max_chars`` at a word boundary (mid-word only when a single
    word is that long), never splitting a character from its combining marks.
    Any script is kept as written.

    Args:
        raw: the text a model or the offline generator produced.
        max_chars: upper bound on the result's length in code points.

    Returns:
        The cleaned title, or ``""`` when nothing usable is left. Callers
        decide what empty means (the API generator treats it as a failure),
        so this function never raises on content.
    """
    text = unicodedata.normalize("NFC", raw)
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    # Control characters would corrupt the JSON a client renders; keep emoji joiners.
    line = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in line)
    title = " ".join(line.split())
    previous = None
    while title != previous:
        previous = title
        title = _MARKDOWN_LEAD.sub("", title)
        title = _LABEL.sub("", title)
        title = _unwrap(title)
        title = title.rstrip(_TRAILING)
    if len(title) > max_chars:
        title = _cut(title, max_chars)
    return title


def _unwrap(title: str) -> str:
    title = title.strip()
    if len(title) >= 2 and _WRAPPERS.get(title[0]) == title[-1]:
        return title[1:-1].strip()
    # An unpaired quote at either end: a model's stray or a cut-off quotation.
    return title.strip(_QUOTES).strip()


def _cut(title: str, max_chars: int) -> str:
    space = title.rfind(" ", 0, max_chars + 1)
    # A word-boundary cut that keeps less than half loses too much; a single
    # very long word (a URL, CJK text without spaces) is cut where it must be.
    if space >= max_chars // 2:
        return title[:space].rstrip(_TRAILING)
    end = max_chars
    # Back off so a base character keeps its accents and an emoji sequence
    # stays whole; a dangling half renders as a box or a wrong glyph.
    while end > 0 and (
        unicodedata.combining(title[end])
        or title[end] in _JOINERS
        or title[end - 1] in _JOINERS
        or _splits_flag(title, end)
    ):
        end -= 1
    return title[:end].rstrip(_TRAILING)


def _splits_flag(title: str, end: int) -> bool:
    # Flags are pairs of regional indicators; an odd run before the cut means
    # the cut falls inside a pair.
    if not _is_regional_indicator(title[end]):
        return False
    run = 0
    while end - run > 0 and _is_regional_indicator(title[end - run - 1]):
        run += 1
    return run % 2 == 1


def _is_regional_indicator(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"
