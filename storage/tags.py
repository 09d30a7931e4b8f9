"""Queries on LibreChat's ``conversationtags`` collection, scoped to one user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from storage.database import WHOLE_RESULT, Database, Document, update_returning
from storage.documents import HIDDEN

BY_POSITION = [("position", 1), ("_id", 1)]


async def list_all(database: Database, user: str) -> list[Document]:
    return await database.tags.find({"user": user}, HIDDEN, sort=BY_POSITION).to_list(None)


async def list_page(
    database: Database, user: str, *, sort: Sequence[tuple[str, int]], skip: int, limit: int
) -> list[Document]:
    cursor = database.tags.find({"user": user}, HIDDEN, sort=list(sort), skip=skip, limit=limit)
    return await cursor.to_list(None)


async def count(database: Database, user: str) -> int:
    return await database.tags.count_documents({"user": user})


async def find(database: Database, user: str, tag: str) -> Document | None:
    return await database.tags.find_one({"user": user, "tag": tag}, HIDDEN)


async def find_many(database: Database, user: str, tags: Sequence[str]) -> list[Document]:
    if not tags:
        return []
    cursor = database.tags.find(
        {"user": user, "tag": {"$in": list(tags)}}, HIDDEN, batch_size=WHOLE_RESULT
    )
    return await cursor.to_list(None)


async def next_position(database: Database, user: str) -> int:
    last = await database.tags.find_one({"user": user}, {"position": 1}, sort=[("position", -1)])
    if last is None or not isinstance(last.get("position"), int | float):
        return 0
    return int(last["position"]) + 1


async def insert(
    database: Database,
    user: str,
    tag: str,
    *,
    description: str | None,
    position: int,
    now: datetime,
) -> tuple[Document, bool]:
    """Create the tag unless it exists; return the stored tag and whether it is new.

    An upsert with ``$setOnInsert`` keeps a concurrent creation of the same
    tag from failing or overwriting the first one.
    """
    fields: Document = {
        "tag": tag,
        "user": user,
        "count": 0,
        "position": position,
        "createdAt": now,
        "updatedAt": now,
        # Mongoose's version key on a new document, as LibreChat creates tags.
        "__v": 0,
    }
    if description is not None:
        fields["description"] = description
    try:
        result = await database.tags.update_one(
            {"user": user, "tag": tag}, {"$setOnInsert": fields}, upsert=True
        )
        created = result.upserted_id is not None
    except DuplicateKeyError:
        created = False
    doc = await find(database, user, tag)
    assert doc is not None  # it was just created or already there
    return doc, created


async def update(database: Database, user: str, tag: str, changes: Document) -> Document | None:
    return await update_returning(
        database.tags, {"user": user, "tag": tag}, {"$set": changes}, HIDDEN
    )


async def shift_positions(
    database: Database,
    user: str,
    *,
    low: int,
    high: int | None,
    delta: int,
    exclude_tag: str | None = None,
) -> None:
    """Add ``delta`` to the position of tags with ``low <= position <= high``."""
    bounds: Document = {"$gte": low}
    if high is not None:
        bounds["$lte"] = high
    query: Document = {"user": user, "position": bounds}
    if exclude_tag is not None:
        query["tag"] = {"$ne": exclude_tag}
    await database.tags.update_many(query, {"$inc": {"position": delta}})


async def delete(database: Database, user: str, tag: str) -> Document | None:
    return await database.tags.find_one_and_delete({"user": user, "tag": tag}, projection=HIDDEN)


async def set_counts(
    database: Database, user: str, counts: Mapping[str, int], now: datetime
) -> None:
    """Write true counts (computed from the conversations) onto the tags."""
    if not counts:
        return
    await database.tags.bulk_write(
        [
            UpdateOne({"user": user, "tag": tag}, {"$set": {"count": n, "updatedAt": now}})
            for tag, n in counts.items()
        ],
        ordered=False,
    )


async def reset_counts(database: Database, user: str, now: datetime) -> None:
    await database.tags.update_many(
        {"user": user, "count": {"$ne": 0}}, {"$set": {"count": 0, "updatedAt": now}}
    )


async def set_positions(database: Database, user: str, positions: Mapping[str, int]) -> None:
    """Move tags to the given positions in one round trip."""
    if not positions:
        return
    await database.tags.bulk_write(
        [
            UpdateOne({"user": user, "tag": tag}, {"$set": {"position": n}})
            for tag, n in positions.items()
        ],
        ordered=False,
    )
