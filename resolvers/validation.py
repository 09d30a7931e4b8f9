"""Checks on caller-supplied values, shared by GraphQL and REST.

REST bodies arrive as arbitrary JSON, so every check here accepts ``object``
and proves the type: an object where a string belongs (``{"$ne": null}``) is
a 400, never part of a query.
"""

from __future__ import annotations

from typing import Final

from resolvers.errors import BadInput
from storage.conversations import MAX_LITERAL_LENGTH


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# "The caller did not send this field", as opposed to sending null.
MISSING: Final = _Missing()

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


def _present(value: object) -> bool:
    return value is not MISSING and value is not None and value != ""


def required_string(value: object, name: str, max_length: int) -> str:
    if not _present(value):
        raise BadInput(f"{name} is required")
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if len(value) > max_length:
        raise BadInput(f"{name} must be at most {max_length} characters")
    return value


def optional_string(value: object, name: str, max_length: int) -> str | None:
    if value is MISSING or value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if len(value) > max_length:
        raise BadInput(f"{name} must be at most {max_length} characters")
    return value


def required_id(value: object, name: str = "conversationId") -> str:
    return required_string(value, name, MAX_ID_LENGTH)


def required_bool(value: object, name: str) -> bool:
    # CONTRACT.md: "must be a JSON boolean, else 400 <name> must be a boolean";
    # LibreChat's `typeof x !== 'boolean'` gives that message for a missing flag too.
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be a boolean")
    return value


def optional_bool(value: object, name: str) -> bool | None:
    if value is MISSING or value is None:
        return None
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be a boolean")
    return value


def tag_name(value: object, name: str = "tag") -> str:
    tag = required_string(value, name, MAX_TAG_LENGTH)
    if not tag.strip():
        raise BadInput(f"{name} is required")
    return tag


def tag_list(value: object, name: str = "tags") -> list[str]:
    """A list of tag names, duplicates removed, first occurrence kept."""
    if value is MISSING or value is None:
        raise BadInput(f"{name} is required")
    if not isinstance(value, list):
        raise BadInput(f"{name} must be an array of strings")
    if len(value) > MAX_TAGS_PER_CONVERSATION:
        raise BadInput(f"{name} must have at most {MAX_TAGS_PER_CONVERSATION} items")
    seen: dict[str, None] = {}
    for item in value:
        if not isinstance(item, str):
            raise BadInput(f"{name} must be an array of strings")
        seen.setdefault(tag_name(item, "tag"))
    return list(seen)


def optional_int(
    value: object, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BadInput(f"{name} must be an integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise BadInput(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise BadInput(f"{name} must be at most {maximum}")
    return number
