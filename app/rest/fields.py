"""LibreChat's JSON fields, parsed into typed values.

A REST body is arbitrary JSON, so each parser proves the type (an object
where a string belongs, ``{"$ne": null}``, is a 400, never part of a query)
and says which field is wrong in LibreChat's words: ``<name> is required``,
``<name> must be a string``. The content rules both edges share (lengths,
blanks, trimming) are ``resolvers.operations.validation``'s, applied here as each field
is read so the first error is the one LibreChat would name.
"""

from __future__ import annotations

from typing import Any

from resolvers.operations.errors import BadInput
from resolvers.operations.validation import MAX_ID_LENGTH, check_id, check_length, check_tag

Body = dict[str, Any]


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    return value


def required(data: Body, name: str) -> object:
    """A field that must be sent (``null`` counts as sent)."""
    if name not in data:
        raise BadInput(f"{name} is required")
    return data[name]


def required_string(data: Body, name: str) -> str:
    """A string that must be there: absent, null and ``""`` are all "required"."""
    value = data.get(name)
    if value is None or value == "":
        raise BadInput(f"{name} is required")
    return _string(value, name)


def required_id(data: Body, name: str = "conversationId") -> str:
    return check_id(required_string(data, name), name)


def optional_string(data: Body, name: str, max_length: int | None = None) -> str | None:
    """A string or nothing (absent or null)."""
    value = data.get(name)
    if value is None:
        return None
    text = _string(value, name)
    return text if max_length is None else check_length(text, name, max_length)


def optional_id(data: Body, name: str) -> str | None:
    """An id or nothing; ``""`` is nothing too."""
    return optional_string(data, name, MAX_ID_LENGTH) or None


def string_field(data: Body, name: str) -> str:
    """A string that must be sent but may be empty (``title``)."""
    return _string(required(data, name), name)


def boolean(value: object, name: str) -> bool:
    # LibreChat's `typeof x !== 'boolean'`: also its message for a missing flag.
    if not isinstance(value, bool):
        raise BadInput(f"{name} must be a boolean")
    return value


def optional_bool(data: Body, name: str) -> bool | None:
    value = data.get(name)
    return None if value is None else boolean(value, name)


def optional_int(data: Body, name: str) -> int | None:
    """A whole number (``3.0`` counts) or nothing."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BadInput(f"{name} must be an integer")
    return int(value)


def tag(value: object, name: str = "tag") -> str:
    """A tag name from a path or a body (``None``: not sent)."""
    if value is None or value == "":
        raise BadInput(f"{name} is required")
    return check_tag(_string(value, name), name)


def string_list(data: Body, name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        raise BadInput(f"{name} is required")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(f"{name} must be an array of strings")
    return value
