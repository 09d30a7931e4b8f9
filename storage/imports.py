"""Queries on the documents of imports still in progress (the import marker).

An import writes its conversations and messages with two extra fields:
``_importId`` (an ObjectId, so it also says when the import started) and
``expiredAt``. LibreChat reads ``expiredAt`` as a temporary chat: hidden from
its lists, and deleted by its TTL index once the date passes. The gateway's
own reads hide every conversation carrying ``_importId`` (see
``storage.conversations.IMPORTING``); messages are only read through
theirs. Removing both fields is what makes an import visible; deleting by
``_importId`` is how a failed or abandoned one goes away.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from storage.conversations import IMPORTING as MARKER
from storage.database import Database, Document

_UNMARK: Document = {"$unset": {MARKER: "", "expiredAt": ""}}


def marker_fields(import_id: ObjectId, expires_at: datetime) -> Document:
    """The fields that keep one import's documents hidden until it finishes."""
    return {MARKER: import_id, "expiredAt": expires_at}


async def unmark_messages(database: Database, user: str, import_id: ObjectId) -> int:
    """Clear the marker on the import's messages; return how many were cleared.

    Done before the conversations: a message is only ever read through its
    conversation, which stays hidden until :func:`unmark_conversations`.
    """
    result = await database.messages.update_many({"user": user, MARKER: import_id}, _UNMARK)
    return result.modified_count


async def unmark_conversations(database: Database, user: str, import_id: ObjectId) -> int:
    """Clear the marker on the import's conversations (they become visible)."""
    result = await database.conversations.update_many({"user": user, MARKER: import_id}, _UNMARK)
    return result.modified_count


async def delete_marked(database: Database, user: str, import_id: ObjectId) -> tuple[int, int]:
    """Delete what one unfinished import wrote; return (conversations, messages)."""
    conversations = await database.conversations.delete_many({"user": user, MARKER: import_id})
    messages = await database.messages.delete_many({"user": user, MARKER: import_id})
    return conversations.deleted_count, messages.deleted_count


async def delete_started_before(database: Database, started_before: datetime) -> tuple[int, int]:
    """Delete every user's unfinished imports started before a time (the sweep).

    An ObjectId holds whole seconds: imports started in the second of
    ``started_before`` count as before it.

    Returns:
        How many (conversations, messages) were deleted.
    """
    last_of_second = ObjectId(ObjectId.from_datetime(started_before).binary[:4] + b"\xff" * 8)
    older: Document = {MARKER: {"$lte": last_of_second}}
    conversations = await database.conversations.delete_many(older)
    messages = await database.messages.delete_many(older)
    return conversations.deleted_count, messages.deleted_count
