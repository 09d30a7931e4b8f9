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

from .shape import Path, Problem, optional_number, optional_of

ONE_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1)
# Times from this one on are refused. An untimed message is placed 1 ms after
# its parent, which overflowed (an error 500) past the last time a datetime
# holds; a year of room is more than any chain of messages needs.
LATEST = datetime(9999, 1, 1)
ISO_DATE = "must be an ISO 8601 date"
EPOCH_SECONDS = "must be a time in seconds since 1970"


def _bounded(value: datetime, path: Path, expected: str) -> datetime:
    if value >= LATEST:
        raise Problem(path, f"{expected} before the year 9999")
    return value


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
        value = _EPOCH + timedelta(milliseconds=round(seconds * 1000))
    except OverflowError:
        raise Problem(path, EPOCH_SECONDS) from None
    return _bounded(value, path, EPOCH_SECONDS)


def from_iso(text: str, path: Path) -> datetime:
    """A time given as ISO 8601 text; a time without a zone is taken as UTC."""
    try:
        value = storage_time(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):
        raise Problem(path, ISO_DATE) from None
    return _bounded(value, path, ISO_DATE)


def optional_iso(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as ISO 8601 text, or None when missing, null or empty."""
    text = optional_of(obj, key, path, str, ISO_DATE)
    return from_iso(text, path.key(key)) if text else None


def optional_epoch_seconds(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as seconds since 1970, or None when missing or null."""
    seconds = optional_number(obj, key, path, EPOCH_SECONDS)
    return None if seconds is None else from_epoch_seconds(seconds, path.key(key))


def optional_js_date(obj: dict[str, Any], key: str, path: Path) -> datetime | None:
    """``obj[key]`` as JavaScript's ``new Date(x)`` reads it, or None when missing.

    LibreChat exports write ISO 8601 text; a number is milliseconds since 1970.
    """
    value = obj.get(key)
    if isinstance(value, str):
        return from_iso(value, path.key(key)) if value else None
    millis = optional_number(obj, key, path, ISO_DATE)
    if millis is None:
        return None
    try:
        moment = _EPOCH + timedelta(milliseconds=round(millis))
    except OverflowError:
        raise Problem(path.key(key), ISO_DATE) from None
    return _bounded(moment, path.key(key), ISO_DATE)
