"""Queries on LibreChat's ``messages`` collection, always scoped to one user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from bson import ObjectId

from storage.conversations import after_position, substring_regex
from storage.database import WHOLE_RESULT, Database, Document, find_page
from storage.documents import HIDDEN
from storage.librechat_fields import new_documents

# Tree-rebuild order: a parent is always created before its children.
TREE_ORDER = [("createdAt", 1), ("_id", 1)]


async def for_conversations(
    database: Database,
    user: str,
    conversation_ids: Sequence[str],
    projection: Document | None = None,
    *,
    limit: int = 0,
) -> list[Document]:
    """All messages of these conversations in one query, in tree-rebuild order.

    ``limit`` > 0 reads at most that many (all conversations together).
    """
    if not conversation_ids:
        return []
    query: Document = {"user": user}
    if len(conversation_ids) == 1:
        query["conversationId"] = conversation_ids[0]
    else:
        query["conversationId"] = {"$in": list(conversation_ids)}
    cursor = database.messages.find(
        query, projection or HIDDEN, sort=TREE_ORDER, batch_size=WHOLE_RESULT, limit=limit
    )
    return await cursor.to_list(None)


# What LibreChat's client never sees of a message (its CLIENT_MESSAGE_SELECT):
# ids and owner, replay and tracing state.
CLIENT_HIDDEN: dict[str, Any] = {
    **HIDDEN,
    **dict.fromkeys(
        (
            "_id",
            "user",
            "clientId",
            "invocationId",
            "conversationSignature",
            "summary",
            "summaryTokenCount",
            "contextMeta",
            "langfuseSampled",
            "langfuseDestinationIds",
        ),
        0,
    ),
}
# Documents fetched per round trip while a whole conversation is streamed:
# memory stays at one batch whatever the conversation's length.
STREAM_BATCH = 500


async def stream_conversation(
    database: Database, user: str, conversation_id: str
) -> AsyncIterator[Document]:
    """Every message of one conversation in tree-rebuild order, a batch at a time."""
    cursor = database.messages.find(
        {"user": user, "conversationId": conversation_id},
        CLIENT_HIDDEN,
        sort=TREE_ORDER,
        batch_size=STREAM_BATCH,
    )
    async for doc in cursor:
        yield doc


async def page_of_conversation(
    database: Database,
    user: str,
    conversation_id: str,
    *,
    sort_by: str,
    direction: int,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Document]:
    """Up to ``limit`` messages of one conversation after a position.

    The order is total: ``sort_by`` then ``_id``. The (conversationId, user,
    createdAt, _id) index serves ``createdAt``; other keys sort one
    conversation's messages, and with a limit the server keeps only the top
    ``limit`` while it sorts, so memory stays bounded either way.
    """
    fields = [sort_by, "_id"]
    # Flat (no top-level $and): every planner sees the equality prefix.
    query: Document = {"user": user, "conversationId": conversation_id}
    if after is not None:
        query.update(after_position(fields, direction, after))
    return await find_page(
        database.messages, query, HIDDEN, sort=[(f, direction) for f in fields], limit=limit
    )


async def count_in_conversation(database: Database, user: str, conversation_id: str) -> int:
    return await database.messages.count_documents(
        {"user": user, "conversationId": conversation_id}
    )


async def find_in_conversation(
    database: Database, user: str, conversation_id: str, message_id: str
) -> Document | None:
    return await database.messages.find_one(
        {"user": user, "conversationId": conversation_id, "messageId": message_id}, HIDDEN
    )


async def find_by_ids(
    database: Database, ids: Sequence[str], projection: Document | None = None
) -> list[Document]:
    """The messages with these ``_id``s (as strings; ObjectIds where valid), any owner.

    A lone ``$in`` on ``_id``: an index lookup on every server.
    """
    if not ids:
        return []
    keys = [ObjectId(i) if ObjectId.is_valid(i) else i for i in ids]
    cursor = database.messages.find(
        {"_id": {"$in": keys}}, projection or HIDDEN, batch_size=WHOLE_RESULT
    )
    return await cursor.to_list(None)


async def conversation_ids_matching(database: Database, user: str, text: str) -> list[str]:
    """Ids of the user's conversations with a message whose text contains ``text``.

    Matches both the plain ``text`` field and structured ``content`` parts
    (newer LibreChat messages keep their text there).
    """
    rx = substring_regex(text)
    ids = await database.messages.distinct(
        "conversationId", {"user": user, "$or": [{"text": rx}, {"content.text": rx}]}
    )
    return [str(i) for i in ids]


async def delete_for_conversations(
    database: Database, user: str, conversation_ids: Sequence[str]
) -> int:
    if not conversation_ids:
        return 0
    result = await database.messages.delete_many(
        {"user": user, "conversationId": {"$in": list(conversation_ids)}}
    )
    return result.deleted_count


async def delete_all(database: Database, user: str) -> int:
    result = await database.messages.delete_many({"user": user})
    return result.deleted_count


async def insert_many(
    database: Database, docs: Sequence[Document], *, ordered: bool = True
) -> None:
    """Insert new messages (callers give each its ``_id`` beforehand).

    Ordered by default, so a failure stops at the first bad document and the
    caller knows that exactly the documents before it may have been written.
    ``ordered=False`` lets the server apply a batch in any order, which is
    faster; for callers that undo a failure by conversation id (imports).
    """
    if docs:
        await database.messages.insert_many(new_documents(docs), ordered=ordered)


async def delete_by_ids(database: Database, user: str, ids: Sequence[Any]) -> int:
    """Delete the user's messages with these ``_id`` values (undoing a batch)."""
    if not ids:
        return 0
    result = await database.messages.delete_many({"user": user, "_id": {"$in": list(ids)}})
    return result.deleted_count


async def first_exchange(
    database: Database, user: str, conversation_id: str, scan: int = 50
) -> tuple[Document | None, Document | None]:
    """The first user message and the first assistant reply of a conversation.

    Only the oldest ``scan`` messages are read: a title comes from the opening
    of a conversation, and its length must not cost anything.
    """
    cursor = database.messages.find(
        {"user": user, "conversationId": conversation_id},
        {"text": 1, "content": 1, "isCreatedByUser": 1},
        sort=TREE_ORDER,
        limit=scan,
    )
    first_user: Document | None = None
    first_reply: Document | None = None
    async for doc in cursor:
        if doc.get("isCreatedByUser"):
            first_user = first_user or doc
        else:
            first_reply = first_reply or doc
        if first_user is not None and first_reply is not None:
            break
    return first_user, first_reply
