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


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, ObjectId):
        return str(value)
    return value


def encode(sort_by: str, direction: int, doc: dict[str, Any], page: int) -> str:
    """The cursor positioned after ``doc`` (the last item of page ``page``)."""
    payload: dict[str, Any] = {
        "primary": _encode_value(doc.get(sort_by)),
        "secondary": _encode_value(doc.get("updatedAt")),
        "id": _encode_value(doc.get("_id")),
        "sortBy": sort_by,
        "dir": "asc" if direction == 1 else "desc",
        "page": page,
    }
    return base64.b64encode(orjson.dumps(payload)).decode("ascii")


def _parse_date(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(INVALID_CURSOR)
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadInput(INVALID_CURSOR) from exc


def _parse_primary(sort_by: str, value: Any) -> Any:
    if sort_by in _DATE_KEYS:
        return _parse_date(value)
    if value is not None and not isinstance(value, str):
        raise BadInput(INVALID_CURSOR)
    return value


def decode(cursor: str, sort_by: str, direction: int) -> Position:
    """Read a cursor for a list sorted by ``sort_by`` in ``direction``.

    Raises:
        BadInput: "Invalid cursor" for anything that is not a cursor of this list.
    """
    if len(cursor) > 1024:
        raise BadInput(INVALID_CURSOR)
    payload: Any = None
    try:
        payload = orjson.loads(base64.b64decode(cursor, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        # Mid-2025 LibreChat: a bare ISO date of the last item's updatedAt.
        if sort_by != "updatedAt":
            raise BadInput(INVALID_CURSOR)
        return Position(values=(_parse_date(cursor),))
    if "primary" not in payload:
        raise BadInput(INVALID_CURSOR)
    if payload.get("sortBy", sort_by) != sort_by or payload.get("dir", None) not in (
        None,
        "asc" if direction == 1 else "desc",
    ):
        raise BadInput(INVALID_CURSOR)
    primary = _parse_primary(sort_by, payload.get("primary"))
    values: list[Any] = [primary]
    if sort_by != "updatedAt":
        values.append(_parse_date(payload.get("secondary")))
    raw_id = payload.get("id")
    if raw_id is not None:
        if not isinstance(raw_id, str):
            raise BadInput(INVALID_CURSOR)
        try:
            values.append(ObjectId(raw_id))
        except InvalidId:
            # Documents written by other tools may have non-ObjectId _ids.
            values.append(raw_id)
    page = payload.get("page")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
        raise BadInput(INVALID_CURSOR)
    return Position(values=tuple(values), page=page)
