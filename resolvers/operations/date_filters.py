"""The list's date filters, parsed in one place for every edge and operation.

``createdAfter``/``updatedAfter`` are inclusive and ``createdBefore``/
``updatedBefore`` exclusive: back-to-back ranges (``createdAfter=2024-01-01``
then ``createdBefore=2024-01-01``) neither overlap nor miss a conversation.
A value is ISO-8601: a date (midnight UTC) or a timestamp; without an offset
it is UTC, with one it is converted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from resolvers.operations.clock import parse_iso
from resolvers.operations.errors import BadInput
from storage.conversations import DateRange

__all__ = ["DATE_FILTER_NAMES", "DateRange", "check_date_range", "date_range", "parse_date"]

# The parameter names, in the order both edges check them.
DATE_FILTER_NAMES = ("createdAfter", "createdBefore", "updatedAfter", "updatedBefore")
# Longer than any ISO-8601 timestamp with nanoseconds and an offset.
_MAX_DATE_LENGTH = 64
# BSON dates cover these years; datetime allows nothing outside them either,
# but an explicit bound keeps an offset from pushing a value past year 9999.
_MIN_YEAR = 1
_MAX_YEAR = 9999


def _bad(name: str) -> BadInput:
    return BadInput(f"{name} must be an ISO-8601 date")


def parse_date(value: str | None, name: str) -> datetime | None:
    """``value`` as naive UTC, or None when absent or empty.

    Raises:
        BadInput: "<name> must be an ISO-8601 date".
    """
    if value is None or value == "":
        return None
    text = value.strip()
    if not text or len(text) > _MAX_DATE_LENGTH:
        raise _bad(name)
    try:
        parsed = parse_iso(text)
    except (ValueError, OverflowError) as exc:
        raise _bad(name) from exc
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        raise _bad(name)
    return _millis(parsed)


def _millis(value: datetime) -> datetime:
    """Rounded up to a whole millisecond, what stored dates hold.

    BSON would cut the microseconds off (round down), which turns
    ``>= 10:00:00.0005`` into ``>= 10:00:00.000`` and takes a conversation
    stamped ``.000`` that is earlier. For values stored in whole
    milliseconds ``>= x`` and ``< x`` equal ``>= ceil(x)`` and ``< ceil(x)``.
    """
    extra = value.microsecond % 1000
    if not extra:
        return value
    try:
        return value + timedelta(microseconds=1000 - extra)
    except OverflowError:  # the last millisecond of year 9999
        return value - timedelta(microseconds=extra)


def date_range(
    *,
    created_after: str | None = None,
    created_before: str | None = None,
    updated_after: str | None = None,
    updated_before: str | None = None,
) -> DateRange:
    """The four filters from their text (REST query parameters, JSON bodies).

    Raises:
        BadInput: the first malformed one, in :data:`DATE_FILTER_NAMES` order.
    """
    return DateRange(
        created_after=parse_date(created_after, "createdAfter"),
        created_before=parse_date(created_before, "createdBefore"),
        updated_after=parse_date(updated_after, "updatedAfter"),
        updated_before=parse_date(updated_before, "updatedBefore"),
    )


def check_date_range(dates: DateRange) -> DateRange:
    """Already-typed bounds (GraphQL's DateTime), made naive UTC milliseconds."""

    def clean(value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = parse_iso(value.isoformat())
        return _millis(value)

    return DateRange(
        created_after=clean(dates.created_after),
        created_before=clean(dates.created_before),
        updated_after=clean(dates.updated_after),
        updated_before=clean(dates.updated_before),
    )
