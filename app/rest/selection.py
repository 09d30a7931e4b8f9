"""A selection of conversations as the REST extensions receive it.

In a JSON body (``POST /api/convos/bulk``): ``{"ids": [...]}`` or
``{"filter": {"isArchived": ..., "tags": [...], "search": ..., "pinned": ...,
"createdAfter": ..., ...}}`` (the list's date filters too).
In a query string (``GET /api/convos/export``): ``ids`` (repeated or ``ids[]``),
or the list's own parameters. A filter field this edge does not know is a
400, so a client never mistakes an ignored field for a narrower selection;
a new list filter is added in :data:`FILTER_FIELDS` and both parsers.
"""

from __future__ import annotations

from starlette.requests import Request

from app.rest import fields
from app.rest.body import query_bool, query_list, query_text
from resolvers.operations import date_filters
from resolvers.operations.conversations import ListQuery
from resolvers.operations.errors import BadInput
from resolvers.operations.selection import MAX_IDS, Selection

FILTER_FIELDS = ("isArchived", "tags", "search", "pinned", *date_filters.DATE_FILTER_NAMES)


def _dates(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadInput("dates must be ISO-8601 strings")


def _ids(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput("ids must be an array of strings")
    if len(value) > MAX_IDS:
        raise BadInput(f"ids must have at most {MAX_IDS} items")
    return value


def from_body(data: fields.Body) -> Selection:
    """The selection of a JSON body: exactly one of ``ids`` and ``filter``."""
    has_ids, has_filter = data.get("ids") is not None, data.get("filter") is not None
    if has_ids == has_filter:
        raise BadInput("give either ids or filter")
    if has_ids:
        return Selection(ids=_ids(data["ids"]))
    raw = data["filter"]
    if not isinstance(raw, dict):
        raise BadInput("filter must be an object")
    unknown = sorted(set(raw) - set(FILTER_FIELDS))
    if unknown:
        raise BadInput(f"filter has unknown fields: {', '.join(unknown)[:200]}")
    tags = raw.get("tags")
    if tags is not None and not (
        isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
    ):
        raise BadInput("tags must be an array of strings")
    return Selection(
        filter=ListQuery(
            is_archived=fields.optional_bool(raw, "isArchived") or False,
            tags=tags or (),
            search=fields.optional_string(raw, "search"),
            pinned=fields.optional_bool(raw, "pinned"),
            dates=date_filters.date_range(
                created_after=_dates(raw.get("createdAfter")),
                created_before=_dates(raw.get("createdBefore")),
                updated_after=_dates(raw.get("updatedAfter")),
                updated_before=_dates(raw.get("updatedBefore")),
            ),
        )
    )


def from_query(request: Request) -> Selection:
    """The selection of a query string: ``ids``, else the list's filter parameters."""
    ids = query_list(request, "ids")
    if ids:
        names = {name.removesuffix("[]") for name in request.query_params}
        if names & set(FILTER_FIELDS):
            raise BadInput("give either ids or filter parameters")
        return Selection(ids=_ids(ids))
    return Selection(
        filter=ListQuery(
            is_archived=query_bool(request, "isArchived") or False,
            tags=query_list(request, "tags"),
            search=query_text(request, "search", decode_twice=True),
            pinned=query_bool(request, "pinned"),
            dates=date_filters.date_range(
                created_after=request.query_params.get("createdAfter"),
                created_before=request.query_params.get("createdBefore"),
                updated_after=request.query_params.get("updatedAfter"),
                updated_before=request.query_params.get("updatedBefore"),
            ),
        )
    )
