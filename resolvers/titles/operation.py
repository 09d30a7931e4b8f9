"""Generated titles: when to make one, where it goes, how a caller waits for it.

LibreChat titles a conversation during its chat flow, which this gateway does
not have; so titles are generated here, in the background, for conversations
that still carry a default title: after an import, and when a client asks
(``GET /api/convos/gen_title/:id`` or the ``generateTitle`` mutation).
A generated title is saved on the conversation (unless the user renamed it
meanwhile) and put in the cache the route reads once, as LibreChat does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from resolvers.adapters.services import Services
from resolvers.operations.clock import utcnow
from resolvers.operations.conversations import get_conversation
from resolvers.operations.errors import TITLE_NOT_FOUND, NotFound
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.titles import TitleSource, title_cache_key, wait_for_title
from resolvers.titles.waiting import delays_within
from storage import conversations as conversation_store
from storage import messages as message_store
from storage.database import Document
from storage.documents import DEFAULT_TITLE

log = logging.getLogger(__name__)

# Titles that mean "nobody named this yet": LibreChat's default, its import
# defaults, and none at all.
DEFAULT_TITLES: tuple[str | None, ...] = (
    DEFAULT_TITLE,
    "Imported Chat",
    "Imported Claude Chat",
    "",
    None,
)


def has_default_title(conversation: Document) -> bool:
    return conversation.get("title") in DEFAULT_TITLES


def _message_text(doc: Document | None) -> str:
    if doc is None:
        return ""
    text = doc.get("text")
    if isinstance(text, str) and text.strip():
        return text
    # Newer LibreChat messages (agents) keep their text in content parts.
    parts: Any = doc.get("content")
    if isinstance(parts, list):
        return "\n".join(
            p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


async def _sources(services: Services, user: str, conversation_id: str) -> list[TitleSource]:
    first, reply = await message_store.first_exchange(services.database, user, conversation_id)
    sources = [TitleSource("user", _message_text(first))]
    if reply is not None:
        sources.append(TitleSource("assistant", _message_text(reply)))
    return sources


async def schedule_title(services: Services, user: str, conversation_id: str) -> bool:
    """Start generating a title in the background; never waits, never raises for it."""
    titles = services.titles
    if titles is None:
        return False
    sources = await _sources(services, user, conversation_id)

    async def save(title: str) -> None:
        saved = await conversation_store.set_title_if_default(
            services.database, user, conversation_id, title, DEFAULT_TITLES, utcnow()
        )
        if saved is not None:
            await services.events.publish(
                ConversationEvent(EventKind.TITLE_GENERATED, user, (conversation_id,))
            )

    return titles.schedule(user, conversation_id, sources, save)


async def schedule_titles(services: Services, user: str, conversations: Iterable[Document]) -> int:
    """Schedule titles for those of ``conversations`` that still have a default title."""
    started = 0
    for conversation in conversations:
        cid = conversation.get("conversationId")
        if isinstance(cid, str) and has_default_title(conversation):
            try:
                started += await schedule_title(services, user, cid)
            except Exception:  # a title must never fail the operation that asked for it
                log.exception("could not schedule a title for %s", cid)
    return started


async def generated_title(
    services: Services, user: str, *, conversation_id: str, wait_budget_s: float | None = None
) -> str:
    """The generated title of a conversation, waiting for it with LibreChat's backoff.

    A conversation with a default title gets one generated now; the cache
    entry is read once and removed. ``wait_budget_s`` cuts the backoff short
    for an edge whose own deadline is shorter (GraphQL's execution timeout),
    so the caller gets NOT_FOUND rather than a timeout.

    Raises:
        NotFound: unknown conversation, or no title within the backoff (about 15.5 s).
        Forbidden: another user's conversation.
    """
    conversation = await get_conversation(services, user, conversation_id=conversation_id)
    cid = str(conversation["conversationId"])
    titles = services.titles
    if titles is None:
        raise NotFound(TITLE_NOT_FOUND)
    if has_default_title(conversation):
        await schedule_title(services, user, cid)
    delays = services.title_wait_delays
    if wait_budget_s is not None:
        delays = delays_within(delays, wait_budget_s)
    title = await wait_for_title(titles.cache, title_cache_key(user, cid), delays=delays)
    if title is None:
        raise NotFound(TITLE_NOT_FOUND)
    return title
