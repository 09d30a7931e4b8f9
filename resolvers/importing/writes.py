"""How an import's documents reach the database, and leave it when it fails.

The steps 5 to 7 of ``resolvers.importing.operation``: batches written hidden under the
import's marker (``storage.imports``), published at once, deleted again when
anything fails; and the sweep of imports a crash left hidden.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.errors import BulkWriteError, DocumentTooLarge, PyMongoError

from resolvers.adapters.services import Services
from resolvers.operations.tag_counts import recount
from resolvers.titles.operation import has_default_title
from storage import conversations as conversation_store
from storage import imports as import_store
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Database, Document

from .documents import ParsedConversation
from .passes import ImportSummary

log = logging.getLogger(__name__)

# The server's code for a document over 16 MB (BSONObjectTooLarge).
_OBJECT_TOO_LARGE = 10334
# Conversation ids per delete when undoing a failed import.
_UNDO_CHUNK = 1_000
# Sweeps per abandon period: leftovers of a crash live at most 1.25 times
# that long, on databases without a TTL monitor too.
_SWEEPS_PER_PERIOD = 4


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far the writes are, after each batch."""

    conversations: int
    messages: int
    total_conversations: int
    total_messages: int


ProgressCallback = Callable[[ImportProgress], None]


class ImportAbandoned(RuntimeError):
    """An import ran past IMPORT_ABANDON_AFTER: the sweep may be deleting it."""


@dataclass(slots=True)
class _Batch:
    conversations: list[Document] = field(default_factory=list)
    messages: list[Document] = field(default_factory=list)


def _batches(
    parsed: Iterator[ParsedConversation], marker: Document, batch_messages: int
) -> Generator[_Batch, None, None]:
    """Whole conversations grouped until a batch holds ``batch_messages`` messages,
    each document carrying the import's ``marker``.
    """
    batch = _Batch()
    for item in parsed:
        ids: list[ObjectId] = []
        for message in item.messages:
            # Our own ids, so the conversation can list its messages.
            message["_id"] = object_id = ObjectId()
            message.update(marker)
            ids.append(object_id)
        item.conversation["messages"] = ids
        item.conversation.update(marker)
        batch.conversations.append(item.conversation)
        batch.messages.extend(item.messages)
        if len(batch.messages) >= batch_messages:
            yield batch
            batch = _Batch()
    if batch.conversations:
        yield batch


async def write_hidden(
    services: Services,
    parsed: Iterator[ParsedConversation],
    marker: Document,
    written: list[str],
    untitled: list[Document],
    summary: ImportSummary,
    on_progress: ProgressCallback | None,
    batch_messages: int,
    max_titles: int,
) -> int:
    """Insert every batch, hidden; ``written`` collects the conversation ids as
    they go, ``untitled`` the first conversations that still need a title.
    """
    batches = _batches(parsed, marker, batch_messages)
    pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    messages = 0
    try:
        # shield: a cancelled import still waits for the parser thread below.
        while (batch := await asyncio.shield(pending)) is not None:
            # Parse the next batch while the database stores this one.
            pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            written.extend(doc["conversationId"] for doc in batch.conversations)
            untitled.extend(
                {"conversationId": doc["conversationId"], "title": doc.get("title")}
                for doc in batch.conversations
                if has_default_title(doc) and len(untitled) < max_titles
            )
            await message_store.insert_many(services.database, batch.messages, ordered=False)
            await conversation_store.insert_many(services.database, batch.conversations)
            messages += len(batch.messages)
            if on_progress is not None:
                on_progress(
                    ImportProgress(
                        conversations=len(written),
                        messages=messages,
                        total_conversations=summary.conversations,
                        total_messages=summary.messages,
                    )
                )
    finally:
        # The generator cannot be closed while the thread is inside it.
        await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # seen: an error here is not the one to report
        batches.close()
    return messages


async def publish(
    services: Services,
    user: str,
    import_id: ObjectId,
    *,
    conversations: int,
    messages: int,
    abandon_after: timedelta,
) -> None:
    """Show the whole import at once: remove the marker, messages first.

    Raises:
        ImportAbandoned: The import outlived ``abandon_after``, or something
            (the sweep, a TTL monitor) deleted part of it meanwhile.
    """
    if datetime.now(UTC) - import_id.generation_time >= abandon_after:
        raise ImportAbandoned("the import ran past IMPORT_ABANDON_AFTER")
    database = services.database
    shown_messages = await import_store.unmark_messages(database, user, import_id)
    shown = await import_store.unmark_conversations(database, user, import_id)
    if (shown, shown_messages) != (conversations, messages):
        raise ImportAbandoned(
            f"{conversations - shown} conversations and {messages - shown_messages} messages "
            "of the import were deleted while it ran"
        )


def too_large_to_store(exc: BaseException) -> bool:
    """A document over MongoDB's 16 MB limit, refused by the driver or the server."""
    if isinstance(exc, DocumentTooLarge):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == _OBJECT_TOO_LARGE for e in errors)
    return False


async def undo(
    services: Services,
    user: str,
    import_id: ObjectId,
    conversation_ids: Sequence[str],
    created_tags: Sequence[str],
    tags: Sequence[str],
) -> None:
    """Delete what a failed import wrote; log (never raise) if that fails too."""
    database = services.database
    try:
        # Still hidden: by the marker (also catches a batch applied in part).
        await import_store.delete_marked(database, user, import_id)
        # Already shown (a failure while publishing or in the tags step): by id.
        for start in range(0, len(conversation_ids), _UNDO_CHUNK):
            chunk = conversation_ids[start : start + _UNDO_CHUNK]
            # Conversations first: none stays visible without its messages.
            await conversation_store.delete_by_ids(database, user, chunk)
            await message_store.delete_for_conversations(database, user, chunk)
        async with services.locks.hold(user):
            for tag in created_tags:
                await tag_store.delete(database, user, tag)
            if tags:
                await recount(services, user, tags)
    except Exception:
        log.exception(
            "could not undo a failed import for user %s: up to %d conversations remain "
            "(hidden ones are swept after IMPORT_ABANDON_AFTER)",
            user,
            len(conversation_ids),
        )


async def keep_sweeping(database: Database, abandon_after: timedelta) -> None:
    """Sweep abandoned imports now, then periodically, until cancelled.

    A database that cannot be reached only postpones a sweep.
    """
    while True:
        try:
            await sweep_abandoned(database, abandon_after)
        except PyMongoError as exc:
            log.warning("could not sweep abandoned imports (%s); retrying later", exc)
        await asyncio.sleep((abandon_after / _SWEEPS_PER_PERIOD).total_seconds())


async def sweep_abandoned(database: Database, older_than: timedelta) -> tuple[int, int]:
    """Delete the hidden documents of imports started more than ``older_than`` ago.

    Returns:
        How many (conversations, messages) were deleted.
    """
    # Real time, as in the import ids, not the clock that dates stored documents.
    deleted = await import_store.delete_started_before(database, datetime.now(UTC) - older_than)
    if any(deleted):
        log.warning(
            "deleted %d conversations and %d messages left hidden by unfinished imports",
            *deleted,
        )
    return deleted
