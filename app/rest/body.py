"""Reading LibreChat-shaped request bodies and query strings safely.

A body is a JSON object of at most ``max_bytes``; no key anywhere in it may
start with ``$`` (MongoDB operators must never arrive from a client, the rule
LibreChat applies with express-mongo-sanitize). Anything else is a 400/413.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson
from starlette.requests import Request

from app.request_body import read_limited
from resolvers.operations.errors import BadInput

_MAX_DEPTH = 64


def _check_keys(value: Any, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise BadInput("Request body is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$"):
                raise BadInput(f'Keys starting with "$" are not allowed: {key[:50]}')
            _check_keys(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_keys(item, depth + 1)


async def json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` (DELETE without body)."""
    raw = await read_limited(request, max_bytes)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput("Invalid JSON body") from exc
    if not isinstance(body, dict):
        raise BadInput("Request body must be a JSON object")
    _check_keys(body)
    return body


def arg(body: dict[str, Any]) -> dict[str, Any]:
    """The ``{"arg": {...}}`` wrapper LibreChat's client uses for some mutations."""
    wrapped = body.get("arg")
    if wrapped is None:
        return {}
    if not isinstance(wrapped, dict):
        raise BadInput("arg must be an object")
    return wrapped


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    raise BadInput(f"{name} must be true or false")


def query_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise BadInput(f"{name} must be a number") from exc


def query_list(request: Request, name: str) -> list[str]:
    """``?tags=a&tags=b``, ``?tags[]=a``: every value, in order."""
    return [*request.query_params.getlist(name), *request.query_params.getlist(f"{name}[]")]


def query_text(request: Request, name: str, *, decode_twice: bool = False) -> str | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    # LibreChat decodes `search` once more on top of the framework's decoding.
    return unquote(raw) if decode_twice else raw
