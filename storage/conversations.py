"""Queries on LibreChat's ``conversations`` collection.

Every function takes the user id and puts it in the filter: no query here can
reach another user's documents unless its name says so (``owned_by_other``).
Over 400 lines on purpose: every query on the collection sits here, next to
the list filter and sort keys that the indexes (storage/indexes.py) serve, so
the one-user rule and the index shapes are checked in one file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.database import Database, Document, aggregate_all, find_page, update_returning
from storage.documents import HIDDEN
from storage.librechat_fields import REINDEX, new_document, new_documents

# Conversations of an import in progress carry this field (storage/imports.py)
# and expiredAt: lists skip them for expiredAt, reads by id and tag counts for
# this one. Updates by id need no check: only a read reveals an id. Checked
# after the index lookup, not in the filter: SecantusDB's planner scans the
# collection for any filter field outside the index.
IMPORTING = "_importId"

# What a list item carries (docs/contract.md#convos-list): the summary fields
# plus whichever optional ones are stored.
SUMMARY_FIELDS = (
    "_id",
    "conversationId",
    "user",
    "title",
    "endpoint",
    "endpointType",
    "model",
    "modelLabel",
    "iconURL",
    "agent_id",
    "assistant_id",
    "spec",
    "isArchived",
    "archivedAt",
    "pinned",
    "tags",
    "createdAt",
    "updatedAt",
)
SUMMARY_PROJECTION: dict[str, Any] = {name: 1 for name in SUMMARY_FIELDS}


class SortKey(StrEnum):
    """Sort keys a list may use (GraphQL's ``ConversationSort``).

    Each is followed by the tie-breakers that make the order total: (updatedAt,
    _id) after the primary key, as docs/contract.md#convos-list says.
    """

    UPDATED_AT = "updatedAt"
    CREATED_AT = "createdAt"
    TITLE = "title"
    ARCHIVED_AT = "archivedAt"


# The same keys, to check a plain string against (REST's ``sortBy``).
SORT_KEYS = frozenset(SortKey)


def sort_fields(sort_by: str) -> list[str]:
    """The full, total sort order for ``sort_by``: primary key, updatedAt, _id."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort_by!r}")
    return [sort_by, "_id"] if sort_by == "updatedAt" else [sort_by, "updatedAt", "_id"]


@dataclass(frozen=True)
class DateRange:
    """Bounds on ``createdAt``/``updatedAt``: ``*_after`` inclusive, ``*_before``
    exclusive (naive UTC, validated by the resolvers).
    """

    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None

    def clauses(self) -> list[Document]:
        """One range clause per bounded field, so an index on it can bound its scan."""
        found: list[Document] = []
        for field, low, high in (
            ("createdAt", self.created_after, self.created_before),
            ("updatedAt", self.updated_after, self.updated_before),
        ):
            bounds: Document = {}
            if low is not None:
                bounds["$gte"] = low
            if high is not None:
                bounds["$lt"] = high
            if bounds:
                found.append({field: bounds})
        return found


@dataclass(frozen=True)
class ListFilter:
    """What a conversation list selects, already validated by the resolvers."""

    is_archived: bool = False
    tags: Sequence[str] | None = None
    pinned: bool | None = None
    # A case-insensitive substring matched on title and tags, plus the ids of
    # conversations whose messages matched it (found by the messages module).
    search: str | None = None
    search_conversation_ids: Sequence[str] = ()
    dates: DateRange = DateRange()
    # Set when the search index computed the whole match upfront (title, tags
    # and messages): the search clause is then only these ids (read through
    # the conversationId index, see _narrowing), or, with ``search_excluding``,
    # ``$nin`` of the non-matching ones (shorter when most match) among
    # documents whose ``_id`` is at most this one.
    search_complete: bool = False
    search_excluding: Any = None


# The longest regex pattern every supported database accepts: SecantusDB
# refuses patterns over 1,000 characters (a ReDoS guard); MongoDB's cap is
# 32,764 bytes, which 1,000 characters of at most 4 UTF-8 bytes stay under.
MAX_REGEX_PATTERN_LENGTH = 1000
# ``re.escape`` turns one character into at most two (``.`` -> ``\.``), so a
# literal of this length always escapes to a pattern the database accepts.
MAX_LITERAL_LENGTH = MAX_REGEX_PATTERN_LENGTH // 2


def substring_regex(text: str) -> dict[str, str]:
    """A case-insensitive regex matching ``text`` literally (never a pattern).

    Raises:
        ValueError: ``text`` is longer than :data:`MAX_LITERAL_LENGTH`; callers
            validate user input against that bound first (a 400, not this).
    """
    if len(text) > MAX_LITERAL_LENGTH:
        raise ValueError(f"a literal of {len(text)} characters may not fit a regex")
    return {"$regex": re.escape(text), "$options": "i"}


def build_filter(user: str, flt: ListFilter, *, narrowed: bool = False) -> Document:
    """The list's filter; ``narrowed``: without the ids that ``_narrowing``
    puts in the pipeline's first stage (only the pipelines here pass it)."""
    clauses: list[Document] = [
        {"user": user},
        # Temporary chats carry expiredAt and never appear in lists (nor do
        # conversations being imported: they carry it too).
        {"expiredAt": None},
        # false also matches documents that have no isArchived field.
        {"isArchived": True} if flt.is_archived else {"isArchived": {"$ne": True}},
    ]
    if flt.tags:
        clauses.append({"tags": {"$in": list(flt.tags)}})
    if flt.pinned is not None:
        clauses.append({"pinned": True} if flt.pinned else {"pinned": {"$ne": True}})
    if flt.search is not None and flt.search_complete:
        if flt.search_excluding is None:
            if not narrowed:
                clauses.append({"conversationId": {"$in": list(flt.search_conversation_ids)}})
        else:
            if flt.search_conversation_ids:
                clauses.append({"conversationId": {"$nin": list(flt.search_conversation_ids)}})
            clauses.append({"_id": {"$lte": flt.search_excluding}})
    elif flt.search is not None:
        rx = substring_regex(flt.search)
        alternatives: list[Document] = [{"title": rx}, {"tags": rx}]
        if flt.search_conversation_ids:
            alternatives.append({"conversationId": {"$in": list(flt.search_conversation_ids)}})
        clauses.append({"$or": alternatives})
    # A bound matches dates only (MongoDB never compares across types): a
    # document without the field is outside every range.
    clauses.extend(flt.dates.clauses())
    return {"$and": clauses}


def _narrowing(flt: ListFilter) -> Document | None:
    """The ``$match`` that comes before the filter when the matches are known by id.

    A lone ``$in`` on ``conversationId`` is answered from its index by every
    server; inside the filter's ``$and`` SecantusDB's planner uses no index
    and tests each listed id against every document of the collection
    (measured: 50 ids over 5,000 conversations took 3x the plain page, as a
    first stage 17 ms). On MongoDB the two stages merge into one query.
    """
    if flt.search is not None and flt.search_complete and flt.search_excluding is None:
        return {"conversationId": {"$in": list(flt.search_conversation_ids)}}
    return None


def _beyond(field: str, direction: int, value: Any) -> Document | None:
    """Documents whose ``field`` sorts strictly after ``value``.

    MongoDB sorts null and missing before every other value, and ``$gt``/``$lt``
    never cross types, so null is handled explicitly on both sides.
    """
    if direction == 1:
        return {field: {"$ne": None}} if value is None else {field: {"$gt": value}}
    if value is None:
        return None
    return {"$or": [{field: {"$lt": value}}, {field: None}]}


def after_position(fields: Sequence[str], direction: int, values: Sequence[Any]) -> Document:
    """The filter selecting documents strictly after a position in a total order.

    ``fields`` are sorted in ``direction`` (1 or -1); ``values`` are the
    position's values for those fields. The result is the lexicographic
    ``(f1 > v1) or (f1 = v1 and f2 > v2) or ...`` that never repeats or skips.
    ``values`` may be shorter than ``fields`` (LibreChat cursors without an id,
    bare ISO dates): the position is then after every document sharing them.
    """
    if not 0 < len(values) <= len(fields):
        raise ValueError(f"a position needs 1 to {len(fields)} values, got {len(values)}")
    fields = fields[: len(values)]
    alternatives: list[Document] = []
    for i, (field, value) in enumerate(zip(fields, values, strict=True)):
        beyond = _beyond(field, direction, value)
        if beyond is None:
            continue
        equal = [{f: {"$eq": v}} for f, v in zip(fields[:i], values[:i], strict=True)]
        alternatives.append({"$and": [*equal, beyond]} if equal else beyond)
    if not alternatives:
        # Nothing sorts after the very last possible position.
        return {"_id": {"$exists": False}}
    return {"$or": alternatives}


async def list_page(
    database: Database,
    user: str,
    flt: ListFilter,
    *,
    sort_by: str,
    direction: int,
    after: Sequence[Any] | None,
    limit: int,
    skip: int = 0,
) -> list[Document]:
    """One page of summaries in the total order of ``sort_by``.

    Args:
        after: the sort values of the last item of the previous page, or None.
        limit: how many documents to return (callers ask one more to learn
            whether a next page exists).
        skip: legacy offset paging; only used without ``after``.
    """
    fields = sort_fields(sort_by)
    narrowing = _narrowing(flt)
    query = build_filter(user, flt, narrowed=narrowing is not None)
    if after is not None:
        query["$and"].append(after_position(fields, direction, after))
    if narrowing is not None:
        skipped: list[Document] = [] if after is not None or not skip else [{"$skip": skip}]
        pipeline: list[Document] = [
            {"$match": narrowing},
            {"$match": query},
            {"$sort": {f: direction for f in fields}},
            *skipped,
            {"$limit": limit},
            {"$project": SUMMARY_PROJECTION},
        ]
        return await aggregate_all(database.conversations, pipeline)
    return await find_page(
        database.conversations,
        query,
        SUMMARY_PROJECTION,
        sort=[(f, direction) for f in fields],
        limit=limit,
        skip=0 if after is not None else skip,
    )


async def count(database: Database, user: str, flt: ListFilter) -> int:
    return await _count(database, flt, build_filter(user, flt, narrowed=True))


async def _count(database: Database, flt: ListFilter, query: Document) -> int:
    """Count ``query`` (built with ``narrowed=True``) behind ``flt``'s narrowing."""
    narrowing = _narrowing(flt)
    if narrowing is None:
        return await database.conversations.count_documents(query)
    pipeline: list[Document] = [{"$match": narrowing}, {"$match": query}, {"$count": "n"}]
    found = await aggregate_all(database.conversations, pipeline)
    return int(found[0]["n"]) if found else 0


async def count_before(
    database: Database,
    user: str,
    flt: ListFilter,
    *,
    sort_by: str,
    direction: int,
    position: Sequence[Any],
) -> int:
    """How many documents sort at or before ``position`` (for page numbers)."""
    fields = sort_fields(sort_by)
    query = build_filter(user, flt, narrowed=True)
    query["$and"].append({"$nor": [after_position(fields, direction, position)]})
    return await _count(database, flt, query)


async def find_one(
    database: Database, user: str, conversation_id: str, projection: Document | None = None
) -> Document | None:
    if projection is not None and any(projection.values()):
        projection = {**projection, IMPORTING: 1}  # an inclusion projection
    doc = await database.conversations.find_one(
        {"conversationId": conversation_id, "user": user}, projection or HIDDEN
    )
    if doc is None or doc.pop(IMPORTING, None) is not None:
        return None
    return doc


async def insert(database: Database, doc: Document) -> None:
    """Insert a new conversation; ``(conversationId, user)`` is unique."""
    await database.conversations.insert_one(new_document(doc))


async def insert_many(database: Database, docs: Sequence[Document]) -> None:
    """Insert new conversations in one round trip, in any order (imports)."""
    if docs:
        await database.conversations.insert_many(new_documents(docs), ordered=False)


async def delete_by_ids(database: Database, user: str, conversation_ids: Sequence[str]) -> int:
    """Delete the user's conversations with these ids (undoing a failed import)."""
    if not conversation_ids:
        return 0
    result = await database.conversations.delete_many(
        {"user": user, "conversationId": {"$in": list(conversation_ids)}}
    )
    return result.deleted_count


async def owned_by_other(database: Database, user: str, conversation_id: str) -> bool:
    """Whether a conversation with this id exists for some other user."""
    doc = await database.conversations.find_one(
        {"conversationId": conversation_id, "user": {"$ne": user}}, {"_id": 1}
    )
    return doc is not None


async def update_fields(
    database: Database, user: str, conversation_id: str, changes: Document
) -> Document | None:
    """Apply ``$set`` changes and return the updated document, or None if absent.

    Never upserts: renaming a conversation that does not exist is a 404, not a
    new stub document (LibreChat's upsert creates one). A title change marks
    the document for LibreChat's search sync.
    """
    if "title" in changes:
        changes = {**changes, **REINDEX}
    return await update_returning(
        database.conversations,
        {"conversationId": conversation_id, "user": user},
        {"$set": changes},
        HIDDEN,
    )


async def set_tags(
    database: Database, user: str, conversation_id: str, tags: list[str], now: datetime
) -> Document | None:
    return await update_returning(
        database.conversations,
        {"conversationId": conversation_id, "user": user},
        {"$set": {"tags": tags, "updatedAt": now, **REINDEX}},
        {"tags": 1},
    )


async def add_tag(
    database: Database, user: str, conversation_id: str, tag: str, now: datetime
) -> Document | None:
    """Put ``tag`` on a conversation (once); return its tags, or None if absent."""
    return await update_returning(
        database.conversations,
        {"conversationId": conversation_id, "user": user},
        {"$addToSet": {"tags": tag}, "$set": {"updatedAt": now, **REINDEX}},
        {"tags": 1},
    )


async def rename_tag(database: Database, user: str, old: str, new: str, now: datetime) -> None:
    await database.conversations.update_many(
        {"user": user, "tags": old}, {"$set": {"tags.$": new, "updatedAt": now, **REINDEX}}
    )


async def pull_tag(database: Database, user: str, tag: str, now: datetime) -> None:
    await database.conversations.update_many(
        {"user": user, "tags": tag}, {"$pull": {"tags": tag}, "$set": {"updatedAt": now, **REINDEX}}
    )


async def tag_counts(database: Database, user: str, tags: Sequence[str]) -> dict[str, int]:
    """The true number of the user's conversations carrying each tag."""
    if not tags:
        return {}
    cursor = await database.conversations.aggregate(
        [
            {"$match": {"user": user, "tags": {"$in": list(tags)}}},
            # A stage of its own, so the first one keeps its index.
            {"$match": {IMPORTING: None}},
            {"$unwind": "$tags"},
            {"$match": {"tags": {"$in": list(tags)}}},
            # A tag stored twice on one conversation still counts it once.
            {"$group": {"_id": {"c": "$_id", "t": "$tags"}}},
            {"$group": {"_id": "$_id.t", "n": {"$sum": 1}}},
        ]
    )
    counts = {tag: 0 for tag in tags}
    async for row in cursor:
        counts[row["_id"]] = row["n"]
    return counts


async def delete_one(database: Database, user: str, conversation_id: str) -> Document | None:
    """Delete one conversation; return the deleted document's tags, or None."""
    return await database.conversations.find_one_and_delete(
        {"conversationId": conversation_id, "user": user}, projection={"tags": 1}
    )


async def delete_all(database: Database, user: str) -> tuple[int, list[str]]:
    """Delete every conversation of the user; return the count and their ids."""
    ids = await database.conversations.distinct("conversationId", {"user": user})
    result = await database.conversations.delete_many({"user": user})
    return result.deleted_count, [str(i) for i in ids]


async def archive_listed(database: Database, user: str, now: datetime) -> int:
    """Archive every conversation a default list shows, stamping ``now``.

    The filter is the list's own (not archived, not temporary), so "listed
    today" means the same thing here as in ``GET /api/convos``; ``updatedAt``
    is not touched, so list order keeps following activity.
    """
    result = await database.conversations.update_many(
        build_filter(user, ListFilter()), {"$set": {"isArchived": True, "archivedAt": now}}
    )
    return result.modified_count


async def ids_archived_at(database: Database, user: str, when: datetime) -> list[str]:
    """Ids of the conversations one archive sweep stamped with ``when``."""
    ids = await database.conversations.distinct(
        "conversationId", {"user": user, "isArchived": True, "archivedAt": when}
    )
    return [str(i) for i in ids]


async def all_tag_counts(database: Database, user: str) -> dict[str, int]:
    """Every tag name on the user's conversations and how many carry it."""
    cursor = await database.conversations.aggregate(
        [
            {"$match": {"user": user}},
            # Not the conversations of an import still in progress: they carry
            # `_importId` until published (storage/imports.py), and tag counts
            # leave them out too.
            {"$match": {"_importId": None}},
            {"$project": {"tags": 1}},
            {"$unwind": "$tags"},
            {"$match": {"tags": {"$type": "string"}}},
            # A tag stored twice on one conversation still counts it once.
            {"$group": {"_id": {"c": "$_id", "t": "$tags"}}},
            {"$group": {"_id": "$_id.t", "n": {"$sum": 1}}},
        ]
    )
    return {row["_id"]: row["n"] async for row in cursor}


async def set_title_if_default(
    database: Database,
    user: str,
    conversation_id: str,
    title: str,
    defaults: Sequence[str | None],
    now: datetime,
) -> Document | None:
    """Set a generated title unless the user renamed the conversation meanwhile."""
    return await update_returning(
        database.conversations,
        {"conversationId": conversation_id, "user": user, "title": {"$in": list(defaults)}},
        {"$set": {"title": title, "updatedAt": now, **REINDEX}},
        {"_id": 1},
    )
