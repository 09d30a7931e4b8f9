"""Queries over a chosen set of one user's conversations (bulk actions, export).

A set is a filter document built by ``storage.conversations.build_filter`` or
a list of ids; it is read in ``_id`` order, one bounded chunk at a time, so no
query here holds a whole user's history in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from bson import ObjectId

from storage.database import WHOLE_RESULT, Database, Document
from storage.documents import HIDDEN


def by_ids(user: str, conversation_ids: Sequence[str]) -> Document:
    """The filter for the user's conversations among these ids."""
    return {"$and": [{"user": user}, {"conversationId": {"$in": list(conversation_ids)}}]}


async def chunks(
    database: Database,
    query: Document,
    projection: Document,
    *,
    size: int,
) -> AsyncIterator[list[Document]]:
    """The documents matching ``query`` in ``_id`` order, ``size`` at a time.

    Each chunk is its own query after the last ``_id`` seen, so a chunk's
    documents may be changed (even made to stop matching) before the next one
    is read without any being skipped or read twice.
    """
    last: ObjectId | None = None
    # `_id` is what the next chunk starts after; an exclusion projection keeps it anyway.
    fields = projection if 0 in projection.values() else {**projection, "_id": 1}
    while True:
        clauses = [query] if last is None else [query, {"_id": {"$gt": last}}]
        found = await database.conversations.find(
            {"$and": clauses},
            fields,
            sort=[("_id", 1)],
            limit=size,
            batch_size=size,
        ).to_list(None)
        if not found:
            return
        yield found
        if len(found) < size:
            return
        last = found[-1]["_id"]


async def ids_of_others(database: Database, user: str, conversation_ids: Sequence[str]) -> bool:
    """Whether any of these ids is a conversation of another user."""
    if not conversation_ids:
        return False
    doc = await database.conversations.find_one(
        {"conversationId": {"$in": list(conversation_ids)}, "user": {"$ne": user}}, {"_id": 1}
    )
    return doc is not None


async def update_ids(
    database: Database,
    user: str,
    conversation_ids: Sequence[str],
    condition: Document,
    update: Document,
) -> int:
    """Apply ``update`` to the user's conversations among the ids that meet ``condition``."""
    if not conversation_ids:
        return 0
    result = await database.conversations.update_many(
        {"$and": [by_ids(user, conversation_ids), condition]}, update
    )
    return result.modified_count


async def delete_ids(database: Database, user: str, conversation_ids: Sequence[str]) -> int:
    if not conversation_ids:
        return 0
    result = await database.conversations.delete_many(by_ids(user, conversation_ids))
    return result.deleted_count


def stream(
    database: Database, query: Document, projection: Document, *, batch_size: int
) -> AsyncIterator[Document]:
    """The documents matching ``query``, newest activity first (the list's order
    and its index), on one cursor read ``batch_size`` at a time."""
    cursor = database.conversations.find(
        query, projection, sort=[("updatedAt", -1), ("_id", -1)], batch_size=batch_size
    )
    return aiter(cursor)


# Conversation ids per messages query: SecantusDB's cost per id of an `$in`
# grows with the list (0.37 ms per conversation at 10, 0.79 at 100), so a
# chunk's messages are read by several small queries at once.
MESSAGES_IN = 10


async def messages_of(
    database: Database, user: str, conversation_ids: Sequence[str]
) -> list[Document]:
    """Every message of these conversations, in no particular order."""
    groups = [
        conversation_ids[i : i + MESSAGES_IN] for i in range(0, len(conversation_ids), MESSAGES_IN)
    ]
    found = await asyncio.gather(
        *(
            database.messages.find(
                {"user": user, "conversationId": {"$in": list(group)}},
                HIDDEN,
                batch_size=WHOLE_RESULT,
            ).to_list(None)
            for group in groups
        )
    )
    return [message for part in found for message in part]
