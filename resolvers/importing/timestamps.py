"""Timestamps of imported documents: parsed, in UTC, at MongoDB's precision.

Every time is a naive ``datetime`` in UTC (PyMongo stores naive datetimes as
UTC) truncated to whole milliseconds. The truncation matters: MongoDB keeps
milliseconds only, so two times 0.3 ms apart would be stored equal and a
child would no longer sort strictly after its parent, which LibreChat relies
on to rebuild a tree from ``createdAt`` order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .shape import Path, Problem

ONE_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1)


def storage_time(value: datetime) -> datetime:
    """``value`` as naive UTC truncated to milliseconds.

    Args:
        value: An aware datetime (converted to UTC) or a naive one (taken as UTC).

    Returns:
        The time as MongoDB will store it.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def from_epoch_seconds(seconds: float, path: Path) -> datetime:
    """A time given as seconds since 1970 (ChatGPT's ``create_time``)."""
    try:
        # Rounded to the millisecond: 1700000000.123 * 1000 is 1700000000122.99...
        return _EPOCH + timedelta(milliseconds=round(seconds * 1000))
    except OverflowError:
        raise Problem(path, "must be a time in seconds since 1970") from None


def from_iso(text: str, path: Path) -> datetime:
    """A time given as ISO 8601 text; a time without a zone is taken as UTC."""
    try:
        return storage_time(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):
        raise Problem(path, "must be an ISO 8601 date") from None


def optional_iso(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as ISO 8601 text, or None when missing, null or empty."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Problem(path.key(key), "must be an ISO 8601 date")
    return from_iso(value, path.key(key))


def optional_epoch_seconds(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as seconds since 1970, or None when missing or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path.key(key), "must be a time in seconds since 1970")
    return from_epoch_seconds(value, path.key(key))


def optional_js_date(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as JavaScript's ``new Date(x)`` reads it, or None when missing.

    LibreChat exports write ISO 8601 text; a number is milliseconds since 1970.
    """
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return from_iso(value, path.key(key))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path.key(key), "must be an ISO 8601 date")
    try:
        return _EPOCH + timedelta(milliseconds=round(value))
    except OverflowError:
        raise Problem(path.key(key), "must be an ISO 8601 date") from None
