"""JSON in and out: stored documents encoded (ObjectIds as hex, dates as
LibreChat's ISO), and client JSON decoded under guards."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from bson import ObjectId
from starlette.responses import Response

from resolvers.operations.clock import iso

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    # Decimal128, Int64 subclasses, Regex, ...: their string form is the
    # least surprising JSON for a client.
    return str(value)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


class JSONResponse(Response):
    """A JSON response with LibreChat's content type, encoded by orjson."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content)


# Deepest nesting a client's JSON may have. GraphQL variables and extensions
# are shallow; Python code downstream (coercion, deepcopy) recurses, and
# orjson's own limit (1024) is past where that recursion fails.
MAX_JSON_DEPTH: Final = 64


class JSONInputError(json.JSONDecodeError):
    """Client JSON refused: malformed, too large, too deep, or invalid Unicode.

    A ``json.JSONDecodeError``, so framework code that already catches it
    (Strawberry's WebSocket handler: close 4400) refuses it the same way.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)
        self.message = message

    def __str__(self) -> str:
        return self.message


def loads_guarded(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode a client's JSON, refusing what would cost or crash downstream.

    orjson refuses lone UTF-16 surrogates (escaped or raw) and malformed
    UTF-8, so a decoded string is always valid Unicode.

    Raises:
        JSONInputError: over ``max_bytes`` (characters for text), malformed,
            invalid Unicode, or nested deeper than ``max_depth``.
    """
    if len(data) > max_bytes:
        raise JSONInputError(f"JSON larger than {max_bytes} bytes")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JSONInputError(_reason(str(exc), max_depth)) from None
    # Cheap bound first: fewer opening brackets than the limit (strings
    # included) cannot nest past it, which spares the walk on most requests.
    if _brackets(data) > max_depth and _deeper_than(value, max_depth):
        raise JSONInputError(_reason("depth", max_depth))
    return value


def _reason(orjson_message: str, max_depth: int) -> str:
    if "depth" in orjson_message:
        return f"JSON nested deeper than {max_depth} levels"
    if "surrogate" in orjson_message or "UTF-8" in orjson_message:
        return "JSON holds invalid Unicode (a lone UTF-16 surrogate or malformed UTF-8)"
    # Strawberry's wording, which clients already see for malformed JSON.
    return "Unable to parse request body as JSON"


def _brackets(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether containers nest past ``max_depth``; iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
