"""Importing conversation exports: the operation REST, GraphQL and the CLI call.

The importing package (``resolvers.importing``) turns a file into LibreChat
documents; this module decides when they are written, and undoes them when a
write fails. An import runs in four steps:

1. **Admission**, before the upload is read: :func:`admit_import` spends one
   request of the import rate limits (per IP and per user). The edges call it
   first, then spool the upload, then :func:`import_conversations`, which
   takes the admission; a client over its budget never makes the server read
   a 250 MB body. The CLI uses :meth:`ImportAdmission.unmetered` (operators
   are not rate limited).
2. **Validation**: the whole file is read once and converted without keeping
   anything (``validate_import``). A malformed file, or one bad conversation
   among good ones, is a ``BadInput`` naming the conversation and the field,
   and nothing has been written.
3. **Writes**, in batches of about :data:`BATCH_MESSAGES` messages: the
   file is read a second time; each batch's messages are inserted, then its
   conversations (so a conversation is never visible before its messages),
   each conversation listing its messages' ObjectIds as LibreChat keeps them.
   While the database stores one batch, a worker thread parses the next, so
   at most two batches are in memory, whatever the file's size.
4. **Tags**: missing tags are created at the end of the user's order, and the
   imported tags' counts recomputed from the conversations.

No multi-document transaction is used (a standalone MongoDB has none): when a
write fails half-way, everything this import wrote (its conversations, their
messages, the tags it created) is deleted again before the error is raised.
Only a crash of the process itself during the writes can leave part of an
import behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bson import ObjectId
from pymongo.errors import BulkWriteError, DocumentTooLarge

from resolvers.adapters.import_observer import observed_import
from resolvers.adapters.services import Services
from resolvers.importing import (
    DEFAULT_MAX_UNCOMPRESSED_BYTES,
    ImportSummary,
    OpenStream,
    ParsedConversation,
    iter_import,
    validate_import,
)
from resolvers.operations import tags as tag_ops
from resolvers.operations.admission import Admission, enforce
from resolvers.operations.clock import utcnow
from resolvers.operations.errors import PayloadTooLarge
from resolvers.operations.events import ConversationEvent
from resolvers.operations.tag_counts import recount
from resolvers.titles.operation import has_default_title, schedule_titles
from storage import conversations as conversation_store
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Document

log = logging.getLogger(__name__)

IMPORTED = "Conversation(s) imported successfully"
FILE_REQUIRED = "file is required"
DOCUMENT_TOO_LARGE = "A message or conversation exceeds MongoDB's 16 MB document limit"
# Messages per insert_many. The database's work per document dominates, so
# larger batches gain little (bench/import.py --batch-messages 5000: within
# noise on 5,000 x 8) while holding more in memory (two batches are: RSS growth
# 3 MB at 1,000, 17 MB at 5,000) and delaying the first write on small files.
BATCH_MESSAGES = 1_000
# Titles generated after one import at most (the title service's queue is
# bounded too); exports almost always carry titles.
MAX_TITLES_PER_IMPORT = 500
# The server's code for a document over 16 MB (BSONObjectTooLarge).
_OBJECT_TOO_LARGE = 10334
# Conversation ids per delete when undoing a failed import.
_UNDO_CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """An upload the edge has spooled to disk (it deletes the file afterwards).

    Attributes:
        path: The spooled file.
        size: Its size in bytes.
        filename: The name the client gave, if any (informational only: the
            format is detected from the content).
    """

    path: Path
    size: int
    filename: str | None = None

    def open(self) -> IO[bytes]:
        """A new binary file object over the upload, from its start."""
        return self.path.open("rb")


class ImportAdmission(Admission):
    """One import the rate limits admitted, for one user; spent by one import."""

    @classmethod
    def unmetered(cls, user: str) -> ImportAdmission:
        """An admission outside the rate limits, for operators (the CLI)."""
        return cls(user)


async def admit_import(services: Services, user: str, *, client_ip: str | None) -> ImportAdmission:
    """Count one import request against the user's and the IP's budgets.

    Call it before reading the upload.

    Raises:
        RateLimited: Over either budget (nothing counted).
        RateLimitUnavailable: The counters' Redis cannot be reached.
    """
    await enforce(services.rate_limiter, "import", user=user, client_ip=client_ip)
    return ImportAdmission(user)


async def admission_for(
    services: Services, user: str, *, client_ip: str | None, prepaid: list[ImportAdmission]
) -> ImportAdmission:
    """An admission the edge obtained before reading the request, else a new one.

    GraphQL admits a multipart request before Strawberry reads it; a document
    running several imports (aliases) pays for the others here.
    """
    for index, admission in enumerate(prepaid):
        if admission.user == user:
            return prepaid.pop(index)
    return await admit_import(services, user, client_ip=client_ip)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far the writes are, after each batch."""

    conversations: int
    messages: int
    total_conversations: int
    total_messages: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote.

    Attributes:
        conversation_ids: The new conversations, in file order.
        messages: How many messages were written.
        empty_conversations: Conversations skipped for having no message to
            show (e.g. only a system prompt).
        skipped_files: Zip members that are no export (``user.json``...).
    """

    conversation_ids: tuple[str, ...]
    messages: int
    empty_conversations: int = 0
    skipped_files: tuple[str, ...] = ()

    @property
    def conversations(self) -> int:
        return len(self.conversation_ids)


ProgressCallback = Callable[[ImportProgress], None]


@observed_import
async def import_conversations(
    services: Services,
    admission: ImportAdmission,
    open_stream: OpenStream,
    *,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    on_validated: Callable[[ImportSummary], None] | None = None,
    on_progress: ProgressCallback | None = None,
    batch_messages: int = BATCH_MESSAGES,
) -> ImportResult:
    """Import every conversation of an upload for the admitted user, or none.

    Args:
        services: The process's services.
        admission: From :func:`admit_import` (or ``ImportAdmission.unmetered``);
            spent by this call.
        open_stream: Returns a new binary file object over the upload at each
            call (it is read twice).
        max_uncompressed_bytes: Cap on the bytes inflated from a zip.
        on_validated: Called with what the file holds once it validated,
            before anything is written.
        on_progress: Called after each written batch.
        batch_messages: Messages per insert (tests and the benchmark vary it).

    Returns:
        What was written.

    Raises:
        BadInput: The file is malformed or unrecognised; nothing was written.
        PayloadTooLarge: A zip inflates past ``max_uncompressed_bytes``, or
            one message is too large for a MongoDB document; nothing was
            written (in the second case, what was written was deleted).
        PyMongoError: A write failed; what this import had written was deleted.
    """
    user = admission.spend()
    # Parsing is CPU work: a thread keeps the event loop serving others.
    summary = await asyncio.to_thread(
        validate_import, open_stream, max_uncompressed_bytes=max_uncompressed_bytes
    )
    if on_validated is not None:
        on_validated(summary)
    parsed = iter_import(open_stream, user, utcnow(), max_uncompressed_bytes=max_uncompressed_bytes)
    written: list[str] = []
    untitled: list[Document] = []
    created_tags: list[str] = []
    try:
        messages = await _write(
            services, parsed, written, untitled, summary, on_progress, batch_messages
        )
        if summary.tags:
            # Positions and counts are read-then-write: serialised with the
            # user's other tag operations.
            async with services.locks.hold(user):
                await tag_ops.ensure_tags(services, user, list(summary.tags), created=created_tags)
                await recount(services, user, summary.tags)
    except BaseException as exc:
        await _undo(services, user, written, created_tags, list(summary.tags))
        if _too_large_to_store(exc):
            # The file's fault, not the server's: one message is too large to store.
            raise PayloadTooLarge(DOCUMENT_TOO_LARGE) from None
        raise
    await services.events.publish(ConversationEvent("imported", user, tuple(written)))
    # Conversations the file left untitled get one generated in the background.
    await schedule_titles(services, user, untitled)
    return ImportResult(
        conversation_ids=tuple(written),
        messages=messages,
        empty_conversations=summary.empty_conversations,
        skipped_files=summary.skipped_files,
    )


@dataclass(slots=True)
class _Batch:
    conversations: list[Document] = field(default_factory=list)
    messages: list[Document] = field(default_factory=list)


def _batches(
    parsed: Iterator[ParsedConversation], batch_messages: int
) -> Generator[_Batch, None, None]:
    """Whole conversations grouped until a batch holds ``batch_messages`` messages."""
    batch = _Batch()
    for item in parsed:
        ids: list[ObjectId] = []
        for message in item.messages:
            # Our own ids, so the conversation can list its messages.
            message["_id"] = object_id = ObjectId()
            ids.append(object_id)
        item.conversation["messages"] = ids
        batch.conversations.append(item.conversation)
        batch.messages.extend(item.messages)
        if len(batch.messages) >= batch_messages:
            yield batch
            batch = _Batch()
    if batch.conversations:
        yield batch


async def _write(
    services: Services,
    parsed: Iterator[ParsedConversation],
    written: list[str],
    untitled: list[Document],
    summary: ImportSummary,
    on_progress: ProgressCallback | None,
    batch_messages: int,
) -> int:
    """Insert every batch; ``written`` collects the conversation ids as they go,
    ``untitled`` the first conversations that still need a title.
    """
    batches = _batches(parsed, batch_messages)
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
                if has_default_title(doc) and len(untitled) < MAX_TITLES_PER_IMPORT
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


def _too_large_to_store(exc: BaseException) -> bool:
    """A document over MongoDB's 16 MB limit, refused by the driver or the server."""
    if isinstance(exc, DocumentTooLarge):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == _OBJECT_TOO_LARGE for e in errors)
    return False


async def _undo(
    services: Services,
    user: str,
    conversation_ids: Sequence[str],
    created_tags: Sequence[str],
    tags: Sequence[str],
) -> None:
    """Delete what a failed import wrote; log (never raise) if that fails too."""
    database = services.database
    try:
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
            "could not undo a failed import for user %s: up to %d conversations remain",
            user,
            len(conversation_ids),
        )
