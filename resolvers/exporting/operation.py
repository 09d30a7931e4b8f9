"""Exporting a selection: the operation REST, GraphQL (through a signed link) and the CLI call.

Memory stays flat whatever the selection's size: conversations come from one
cursor (the list's order and index) :data:`CHUNK` at a time, their messages
with a few small queries per chunk, each chunk rendered in a worker thread
(JSON and deflate are CPU work the event loop should not wait on) and handed
to the response as it is made. A client that stalls for 10 minutes lets the
server's cursor time out, which cuts its download short.
Only the zip's central directory grows, by about 100 bytes per conversation.

The selection is checked before the first byte (400/403/404 as for bulk
actions, with nothing read); a fault after that can only cut the stream short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat, Renderer, renderer
from resolvers.operations import selection as selections
from resolvers.operations.admission import Admission
from resolvers.operations.clock import utcnow
from storage import selection as selection_store
from storage.database import Document

# Conversations per read: with their messages, the most held at once.
CHUNK = 50
# A conversation's stored `messages` array (ObjectIds) is not exported: the
# messages themselves are.
CONVERSATION_PROJECTION: Document = {"__v": 0, "_meiliIndex": 0, "messages": 0}


class ExportAdmission(Admission):
    """One export the rate limits admitted, for one user."""

    action = "export"


# Count one export against the user's and the IP's budgets.
admit_export = ExportAdmission.admit


@dataclass
class ExportStream:
    """An export ready to send: its type, a file name, its size in conversations, its bytes."""

    media_type: str
    filename: str
    total: int
    chunks: AsyncIterator[bytes]


ProgressCallback = Callable[[int, int], None]


async def export_conversations(
    services: Services,
    admission: ExportAdmission,
    *,
    selection: selections.Selection,
    fmt: ExportFormat,
    on_progress: ProgressCallback | None = None,
    chunk: int = CHUNK,
) -> ExportStream:
    """Check the selection and return the export's stream (not yet read).

    Args:
        on_progress: called with (conversations done, total) after each chunk.

    Raises:
        BadInput, Forbidden, NotFound: see :func:`resolvers.operations.selection.resolve`.
    """
    user = admission.spend()
    resolved = await selections.resolve(services, user, selection)
    total = await services.database.conversations.count_documents(resolved.query)
    render = renderer(fmt)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return ExportStream(
        media_type=render.media_type,
        filename=f"conversations-{stamp}.{render.extension}",
        total=total,
        chunks=_stream(services, user, resolved, render, total, on_progress, chunk),
    )


async def _stream(
    services: Services,
    user: str,
    resolved: selections.ResolvedSelection,
    render: Renderer,
    total: int,
    on_progress: ProgressCallback | None,
    size: int,
) -> AsyncIterator[bytes]:
    done = 0
    conversations = selection_store.stream(
        services.database, resolved.query, CONVERSATION_PROJECTION, batch_size=size
    )
    while batch := [c async for c in _take(conversations, size)]:
        ids = [str(c["conversationId"]) for c in batch]
        messages = await selection_store.messages_of(services.database, user, ids)
        data = await asyncio.to_thread(_render, render, batch, messages)
        done += len(batch)
        if on_progress is not None:
            on_progress(done, max(total, done))
        if data:
            yield data
    tail = await asyncio.to_thread(render.close)
    if tail:
        yield tail


async def _take(items: AsyncIterator[Document], count: int) -> AsyncIterator[Document]:
    """The next ``count`` items (fewer at the end)."""
    for _ in range(count):
        item = await anext(items, None)
        if item is None:
            return
        yield item


def _tree_order(message: Document) -> tuple[datetime, str]:
    """``storage.messages.TREE_ORDER`` in Python: parents before children."""
    created = message.get("createdAt")
    return (created if isinstance(created, datetime) else datetime.min, str(message.get("_id")))


def _render(
    render: Renderer, conversations: Sequence[Document], messages: Sequence[Document]
) -> bytes:
    by_conversation: dict[str, list[Document]] = {}
    for message in messages:
        by_conversation.setdefault(str(message.get("conversationId")), []).append(message)
    return b"".join(
        render.add(c, sorted(by_conversation.get(str(c["conversationId"]), []), key=_tree_order))
        for c in conversations
    )
