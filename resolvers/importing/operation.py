"""Importing conversation exports: the operation REST, GraphQL and the CLI call.

The importing package (``resolvers.importing``) turns a file into LibreChat
documents; this module decides when they are written and when they become
visible. An import runs in these steps:

1. **Admission**, before the upload is read: :func:`admit_import` spends one
   request of the import rate limits (per IP and per user). The edges call it
   first, then spool the upload, then :func:`import_conversations`, which
   takes the admission; a client over its budget never makes the server read
   a 250 MB body. The CLI uses :meth:`ImportAdmission.unmetered` (operators
   are not rate limited).
2. **A slot** in the process's import pool (``resolvers.importing.pool``):
   at most ``IMPORT_MAX_CONCURRENT`` imports run at once, at most
   ``IMPORT_MAX_CONCURRENT_PER_USER`` of one user; the others wait.
3. **Opening**: a zip is inflated once, bounded by the cap, to an unnamed
   spool file that every later pass reads (``open_upload``).
4. **Validation**: the whole file is converted without keeping anything
   (``validate_import``). A malformed file, or one bad conversation among
   good ones, is a ``BadInput`` naming the conversation and the field, and
   nothing has been written.
5. **Hidden writes**, in batches of about :data:`BATCH_MESSAGES` messages:
   the file is read a second time; each batch's messages, then its
   conversations, are inserted carrying the import's marker
   (``storage.imports``): ``_importId``, which every gateway read excludes,
   and ``expiredAt``, which LibreChat reads as a temporary chat (hidden from
   its lists, deleted by its TTL index). While the database stores one
   batch, a worker thread parses the next, so at most two batches are in
   memory, whatever the file's size.
6. **Publishing**: one ``update_many`` per collection removes the marker,
   messages first, then conversations: the import appears at once.
7. **Tags**: missing tags are created at the end of the user's order, and the
   imported tags' counts recomputed from the conversations.

No multi-document transaction is used (a standalone MongoDB has none). When a
step fails, everything this import wrote is deleted again before the error
is raised. When the process dies instead, its documents stay hidden: a retry
writes a new, complete copy (never a second visible one), and the leftovers
are deleted by the TTL index once ``expiredAt`` passes, and by the sweep
(:func:`start_imports`, run by the app) of imports started more than
``IMPORT_ABANDON_AFTER`` ago. Only a death inside step 6 (one update of the
conversations, milliseconds) or 7 can leave an import partly shown or its
tags uncounted.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

from bson import ObjectId

from resolvers.adapters.import_observer import observed_import
from resolvers.adapters.services import Services
from resolvers.importing import (
    DEFAULT_MAX_UNCOMPRESSED_BYTES,
    ImportPool,
    ImportSummary,
    OpenStream,
    Upload,
    iter_import,
    open_upload,
    validate_import,
    writes,
)

# Re-exported: the edges and the CLI name them from here.
from resolvers.importing.writes import ImportAbandoned as ImportAbandoned
from resolvers.importing.writes import ImportProgress as ImportProgress
from resolvers.importing.writes import ProgressCallback
from resolvers.operations import tags as tag_ops
from resolvers.operations.admission import Admission
from resolvers.operations.clock import utcnow
from resolvers.operations.errors import PayloadTooLarge
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.operations.tag_counts import recount
from resolvers.titles.operation import schedule_titles
from storage import imports as import_store
from storage.database import Document

log = logging.getLogger(__name__)
_T = TypeVar("_T")

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


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How imports run in one process (the app sets them from its settings).

    Attributes:
        max_concurrent: Imports running at once.
        max_concurrent_per_user: Of those, imports of one user.
        abandon_after: An import unfinished after this long is taken for
            crashed: its documents expire and are swept.
        temp_dir: Where inflated zip members are spooled; None = the
            system's temp dir.
    """

    max_concurrent: int = 2
    max_concurrent_per_user: int = 1
    abandon_after: timedelta = timedelta(hours=1)
    temp_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class _Runtime:
    options: ImportOptions
    pool: ImportPool


# One pool per Services (per app), made on first use or by configure_imports.
# Keyed by id because Services is an unhashable dataclass; a finalizer drops
# the entry with its Services. Process state, never per-user data.
_RUNTIMES: dict[int, _Runtime] = {}


def configure_imports(services: Services, options: ImportOptions) -> None:
    """Set how the imports of ``services`` run (a new, empty pool)."""
    key = id(services)
    if key not in _RUNTIMES:
        weakref.finalize(services, _RUNTIMES.pop, key, None)
    pool = ImportPool(options.max_concurrent, options.max_concurrent_per_user)
    _RUNTIMES[key] = _Runtime(options, pool)


def _runtime(services: Services) -> _Runtime:
    runtime = _RUNTIMES.get(id(services))
    if runtime is None:
        configure_imports(services, ImportOptions())
        runtime = _RUNTIMES[id(services)]
    return runtime


async def _to_thread_to_the_end(
    work: Callable[[], _T], *, on_abandoned: Callable[[_T], None] | None = None
) -> _T:
    """``work()`` in a worker thread; a cancelled caller still waits for it to end.

    A thread cannot be stopped: returning at once would free the pool's slot
    while the work goes on. ``on_abandoned`` releases what the work returned.
    """
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None and on_abandoned is not None:
            on_abandoned(task.result())
        raise


def import_pool(services: Services) -> ImportPool:
    """The pool the imports of ``services`` run in."""
    return _runtime(services).pool


def start_imports(services: Services, options: ImportOptions) -> asyncio.Task[None]:
    """Configure the imports and start sweeping abandoned ones (the app's lifespan).

    Returns:
        The sweeping task; cancel it at shutdown.
    """
    configure_imports(services, options)
    sweeping = writes.keep_sweeping(services.database, options.abandon_after)
    return asyncio.create_task(sweeping, name="import-sweep")


async def sweep_abandoned_imports(
    services: Services, *, older_than: timedelta | None = None
) -> tuple[int, int]:
    """Delete the hidden documents of imports started longer ago than ``older_than``.

    Args:
        services: The process's services.
        older_than: Default: the configured ``abandon_after``. Imports younger
            than that may still be running in another replica.

    Returns:
        How many (conversations, messages) were deleted.
    """
    bound = _runtime(services).options.abandon_after if older_than is None else older_than
    return await writes.sweep_abandoned(services.database, bound)


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

    action = "import"


# Count one import request against the user's and the IP's budgets; call it
# before reading the upload.
admit_import = ImportAdmission.admit


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
        open_stream: Returns a binary file object over the upload (called once).
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
    runtime = _runtime(services)
    async with runtime.pool.slot(user):
        # Inflating and parsing are CPU work: a thread keeps the event loop
        # serving others. A zip is inflated here, once, for both passes.
        upload = await _to_thread_to_the_end(
            partial(open_upload, open_stream, max_uncompressed_bytes, runtime.options.temp_dir),
            on_abandoned=Upload.close,
        )
        try:
            return await _import(
                services, runtime.options, user, upload, on_validated, on_progress, batch_messages
            )
        finally:
            upload.close()


async def _import(
    services: Services,
    options: ImportOptions,
    user: str,
    upload: Upload,
    on_validated: Callable[[ImportSummary], None] | None,
    on_progress: ProgressCallback | None,
    batch_messages: int,
) -> ImportResult:
    summary = await _to_thread_to_the_end(partial(validate_import, upload))
    if on_validated is not None:
        on_validated(summary)
    # The id's timestamp (real time) is when the import started, for the sweep.
    import_id = ObjectId()
    expires_at = import_id.generation_time + options.abandon_after
    marker = import_store.marker_fields(import_id, expires_at)
    parsed = iter_import(upload, user, utcnow())
    written: list[str] = []
    untitled: list[Document] = []
    created_tags: list[str] = []
    try:
        messages = await writes.write_hidden(
            services,
            parsed,
            marker,
            written,
            untitled,
            summary,
            on_progress,
            batch_messages,
            MAX_TITLES_PER_IMPORT,
        )
        await writes.publish(
            services,
            user,
            import_id,
            conversations=len(written),
            messages=messages,
            abandon_after=options.abandon_after,
        )
        if summary.tags:
            # Positions and counts are read-then-write: serialised with the
            # user's other tag operations.
            async with services.locks.hold(user):
                await tag_ops.ensure_tags(services, user, list(summary.tags), created=created_tags)
                await recount(services, user, summary.tags)
    except BaseException as exc:
        await writes.undo(services, user, import_id, written, created_tags, list(summary.tags))
        if writes.too_large_to_store(exc):
            # The file's fault, not the server's: one message is too large to store.
            raise PayloadTooLarge(DOCUMENT_TOO_LARGE) from None
        raise
    await services.events.publish(ConversationEvent(EventKind.IMPORTED, user, tuple(written)))
    # Conversations the file left untitled get one generated in the background.
    await schedule_titles(services, user, untitled)
    return ImportResult(
        conversation_ids=tuple(written),
        messages=messages,
        empty_conversations=summary.empty_conversations,
        skipped_files=summary.skipped_files,
    )
