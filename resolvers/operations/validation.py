"""The rules on caller-supplied values that every edge applies identically.

Values arrive typed (GraphQL's coercion, or the REST edge's parsing in
``app/rest/fields.py``); these checks are on content only: lengths, blanks,
trimming, ranges. Operations call them on their keyword arguments, so no edge
(REST, GraphQL, the CLI) can skip one; the REST edge also calls them while it
parses, so its errors come in LibreChat's field order.
"""

from __future__ import annotations

from collections.abc import Sequence

from resolvers.operations.errors import BadInput
from storage.conversations import MAX_LITERAL_LENGTH

MAX_ID_LENGTH = 200
MAX_TAG_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 2048
# Search text is matched as an escaped regex; this bound keeps the escaped
# form (up to twice as long) under the database's pattern cap.
MAX_SEARCH_LENGTH = MAX_LITERAL_LENGTH
MAX_TITLE_LENGTH = 1024
MAX_TAGS_PER_CONVERSATION = 256
# Legacy offset paging: (page - 1) * 100 must stay a skip every MongoDB
# accepts (int32); a larger page is a 400, not a driver error (500).
MAX_PAGE_NUMBER = 20_000_000


def check_length(value: str, name: str, max_length: int) -> str:
    if len(value) > max_length:
        raise BadInput(f"{name} must be at most {max_length} characters")
    return value


def check_optional_length(value: str | None, name: str, max_length: int) -> str | None:
    return None if value is None else check_length(value, name, max_length)


def check_id(value: str, name: str = "conversationId") -> str:
    """An id: present (not empty) and at most 200 characters."""
    if not value:
        raise BadInput(f"{name} is required")
    return check_length(value, name, MAX_ID_LENGTH)


def clean_title(value: str) -> str:
    """Trimmed, then cut to 1,024 characters (LibreChat's rule; empty is allowed)."""
    return value.strip()[:MAX_TITLE_LENGTH]


def check_tag(value: str, name: str = "tag") -> str:
    """A tag name: not blank, at most 256 characters, kept as written."""
    if not value.strip():
        raise BadInput(f"{name} is required")
    return check_length(value, name, MAX_TAG_LENGTH)


def check_tags(values: Sequence[str], name: str = "tags") -> list[str]:
    """Tag names, duplicates removed, first occurrence kept."""
    if len(values) > MAX_TAGS_PER_CONVERSATION:
        raise BadInput(f"{name} must have at most {MAX_TAGS_PER_CONVERSATION} items")
    return list(dict.fromkeys(check_tag(value) for value in values))


def check_range(
    value: int | None, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    if value is None:
        return None
    if minimum is not None and value < minimum:
        raise BadInput(f"{name} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise BadInput(f"{name} must be at most {maximum}")
    return value
