"""The one source of "now" for stored timestamps."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, naive, cut to milliseconds (what BSON dates can hold).

    Cutting here means the value returned to a client equals the stored one.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def iso(value: datetime) -> str:
    """``2024-01-15T10:00:00.000Z``: LibreChat's timestamp format."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "") + "Z"


def parse_iso(text: str) -> datetime:
    """An ISO-8601 timestamp (``Z`` or an offset allowed) as naive UTC.

    Raises:
        ValueError: not an ISO-8601 timestamp.
    """
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
