"""Opaque list cursors: where a page ended in the list's total order.

The format is LibreChat v0.8.8's own (standard base64 of JSON
``{"primary", "secondary", "id"}``), so cursors from either server work on
the other, plus two fields of ours: the sort it belongs to (a cursor reused
with another sort is refused rather than silently misread) and the page number.
Older LibreChat cursors (no ``id``) and bare ISO dates are accepted too.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from bson import ObjectId
from bson.errors import InvalidId

from resolvers.operations.clock import iso, parse_iso
from resolvers.operations.errors import BadInput

INVALID_CURSOR = "Invalid cursor"
_DATE_KEYS = {"updatedAt", "createdAt", "archivedAt"}


@dataclass(frozen=True)
class Position:
    """Sort values of the last item of a page.

    ``values`` follow ``storage.conversations.sort_fields(sort_by)``; a cursor
    without an id has one value fewer and positions strictly after every item
    with those values.
    """

    values: tuple[Any, ...]
    page: int | None = None


def encode_value(value: Any) -> Any:
    """A sort value as a cursor's JSON holds it (dates as ISO text, ids as hex)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, ObjectId):
        return str(value)
    return value


def direction_name(direction: int) -> str:
    return "asc" if direction == 1 else "desc"


def pack(payload: dict[str, Any]) -> str:
    """A cursor's text: standard base64 of its JSON, as LibreChat writes it."""
    return base64.b64encode(orjson.dumps(payload)).decode("ascii")


def unpack(cursor: str, sort_by: str, direction: int) -> dict[str, Any] | None:
    """The payload of a JSON cursor for this sort, or None for a bare value.

    Raises:
        BadInput: "Invalid cursor" for a cursor too long, or a JSON one without
            ``primary`` or written for another sort or direction.
    """
    if len(cursor) > 1024:
        raise BadInput(INVALID_CURSOR)
    try:
        payload = orjson.loads(base64.b64decode(cursor, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    if "primary" not in payload or payload.get("sortBy", sort_by) != sort_by:
        raise BadInput(INVALID_CURSOR)
    if payload.get("dir", None) not in (None, direction_name(direction)):
        raise BadInput(INVALID_CURSOR)
    return payload


def parse_date(value: Any) -> datetime | None:
    """A date a cursor holds as ISO text (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(INVALID_CURSOR)
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadInput(INVALID_CURSOR) from exc


def parse_text(value: Any) -> str | None:
    """A sort value that is not a date: a string or None."""
    if value is not None and not isinstance(value, str):
        raise BadInput(INVALID_CURSOR)
    return value


def parse_id(value: Any) -> Any:
    """The ``_id`` a cursor holds: an ObjectId, else the string as written."""
    if not isinstance(value, str):
        raise BadInput(INVALID_CURSOR)
    try:
        return ObjectId(value)
    except InvalidId:
        # Documents written by other tools may have non-ObjectId _ids.
        return value


def encode(sort_by: str, direction: int, doc: dict[str, Any], page: int) -> str:
    """The cursor positioned after ``doc`` (the last item of page ``page``)."""
    return pack(
        {
            "primary": encode_value(doc.get(sort_by)),
            "secondary": encode_value(doc.get("updatedAt")),
            "id": encode_value(doc.get("_id")),
            "sortBy": sort_by,
            "dir": direction_name(direction),
            "page": page,
        }
    )


def decode(cursor: str, sort_by: str, direction: int) -> Position:
    """Read a cursor for a list sorted by ``sort_by`` in ``direction``.

    Raises:
        BadInput: "Invalid cursor" for anything that is not a cursor of this list.
    """
    payload = unpack(cursor, sort_by, direction)
    if payload is None:
        # Mid-2025 LibreChat: a bare ISO date of the last item's updatedAt.
        if sort_by != "updatedAt":
            raise BadInput(INVALID_CURSOR)
        return Position(values=(parse_date(cursor),))
    primary = payload.get("primary")
    values: list[Any] = [parse_date(primary) if sort_by in _DATE_KEYS else parse_text(primary)]
    if sort_by != "updatedAt":
        values.append(parse_date(payload.get("secondary")))
    if payload.get("id") is not None:
        values.append(parse_id(payload["id"]))
    page = payload.get("page")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
        raise BadInput(INVALID_CURSOR)
    return Position(values=tuple(values), page=page)
