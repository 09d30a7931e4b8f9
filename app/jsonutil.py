"""JSON encoding of stored documents: ObjectIds as hex, dates as LibreChat's ISO."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

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
