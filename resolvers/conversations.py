"""Conversation operations: the rules GraphQL and REST both call.

Every operation takes the authenticated user id and validates its own input,
so neither edge can skip a check or scope a query differently.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers import cursor as cursors
from resolvers import search as search_ops
from resolvers.clock import utcnow
from resolvers.errors import BadInput, conversation_forbidden, conversation_not_found
from resolvers.events import ConversationEvent
from resolvers.locks import one_at_a_time_per_user
from resolvers.services import Services
from resolvers.validation import (
    MAX_PAGE_NUMBER,
    MAX_SEARCH_LENGTH,
    MAX_TAG_LENGTH,
    MAX_TITLE_LENGTH,
    MISSING,
    optional_string,
    required_bool,
    required_id,
)
from storage import conversations as conversation_store
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Document

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
SORT_DIRECTIONS = {"asc": 1, "desc": -1}


@dataclass(frozen=True)
class ListQuery:
    """A conversation list request, as either edge received it."""

    limit: int | None = None
    cursor: str | None = None
    is_archived: bool = False
    tags: Sequence[str] = ()
    search: str | None = None
    pinned: bool | None = None
    sort_by: str = "updatedAt"
    sort_direction: str = "desc"
    page_number: int | None = None


@dataclass
class ConversationPage:
    """One page of summaries with what both edges report about it.

    The total is counted with the page (REST always reports it) or, for
    GraphQL, only when a client selects ``totalCount``.
    """

    items: list[Document]
    next_cursor: str | None
    page_number: int
    page_size: int
    sort_by: str
    direction: int
    _total: int | None
    _count: Callable[[], Awaitable[int]]

    @property
    def known_total(self) -> int | None:
        """The total if it was counted with the page, else None."""
        return self._total

    async def total(self) -> int:
        if self._total is None:
            self._total = await self._count()
        return self._total

    async def pages(self) -> int:
        return max(1, math.ceil(await self.total() / self.page_size))

    def cursor_after(self, doc: Document) -> str:
        """A cursor positioned after one item of this page (Relay edges)."""
        return cursors.encode(self.sort_by, self.direction, doc, self.page_number)


@dataclass(frozen=True)
class DeleteResult:
    conversations: int
    messages: int
    conversation_ids: tuple[str, ...]


def _limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if value < 1:
        raise BadInput("limit must be between 1 and 100")
    # Above the maximum is clamped, not refused: clients ask for "a lot".
    return min(value, MAX_LIMIT)


def _list_filter(
    query: ListQuery, search: str | None, matching_ids: list[str]
) -> conversation_store.ListFilter:
    return conversation_store.ListFilter(
        is_archived=query.is_archived,
        tags=list(query.tags) or None,
        pinned=query.pinned,
        search=search,
        search_conversation_ids=matching_ids,
    )


def _summary(doc: Document) -> Document:
    # Defaults the contract promises on every list item.
    doc.setdefault("isArchived", False)
    doc.setdefault("tags", [])
    return doc


async def list_conversations(
    services: Services, user: str, query: ListQuery, *, with_total: bool = True
) -> ConversationPage:
    """A page of the user's conversations (CONTRACT.md "GET /api/convos").

    Raises:
        BadInput: a parameter out of range, an unknown sort, or a bad cursor.
    """
    limit = _limit(query.limit)
    if query.sort_by not in conversation_store.SORT_KEYS:
        raise BadInput("sortBy must be one of updatedAt, createdAt, title, archivedAt")
    direction = SORT_DIRECTIONS.get(query.sort_direction)
    if direction is None:
        raise BadInput("sortDirection must be asc or desc")
    for tag in query.tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise BadInput(f"tags must be at most {MAX_TAG_LENGTH} characters")
    search = optional_string(query.search, "search", MAX_SEARCH_LENGTH)
    if search is not None and not search.strip():
        search = None
    if query.page_number is not None and query.page_number < 1:
        raise BadInput("pageNumber must be at least 1")
    if query.page_number is not None and query.page_number > MAX_PAGE_NUMBER:
        raise BadInput(f"pageNumber must be at most {MAX_PAGE_NUMBER}")

    position = cursors.decode(query.cursor, query.sort_by, direction) if query.cursor else None
    flt = _list_filter(query, search, [])
    scope = await search_ops.search_scope(services, user, flt) if search is not None else None
    if scope is not None:
        flt = scope.filter

    after: tuple[Any, ...] | None = None
    skip = 0
    if position is not None:
        after = position.values
    elif query.page_number is not None:
        skip = (query.page_number - 1) * limit

    page_coro = conversation_store.list_page(
        services.database,
        user,
        flt,
        sort_by=query.sort_by,
        direction=direction,
        after=after,
        limit=limit + 1,
        skip=skip,
    )

    def count() -> Awaitable[int]:
        return conversation_store.count(services.database, user, flt)

    total: int | None = None
    if with_total:
        # Concurrent: the count costs no extra wait on top of the page.
        docs, total = await asyncio.gather(page_coro, count())
    else:
        docs = await page_coro

    if position is None:
        page_number = query.page_number or 1
    elif position.page is not None:
        page_number = position.page + 1
    else:
        # A cursor from LibreChat carries no page number: count what precedes it.
        before = await conversation_store.count_before(
            services.database,
            user,
            flt,
            sort_by=query.sort_by,
            direction=direction,
            position=position.values,
        )
        page_number = before // limit + 1

    if scope is not None:
        docs = await scope.confirmed(docs)  # what the index proposed, checked in MongoDB
    has_more = len(docs) > limit
    items = [_summary(d) for d in docs[:limit]]
    next_cursor = (
        cursors.encode(query.sort_by, direction, items[-1], page_number)
        if has_more and items
        else None
    )
    return ConversationPage(
        items=items,
        next_cursor=next_cursor,
        page_number=page_number,
        page_size=limit,
        sort_by=query.sort_by,
        direction=direction,
        _total=total,
        _count=count,
    )


async def missing_conversation(services: Services, user: str, conversation_id: str) -> Exception:
    """The error for a conversation the user cannot see: 403 if another user owns it."""
    if await conversation_store.owned_by_other(services.database, user, conversation_id):
        return conversation_forbidden()
    return conversation_not_found()


async def get_conversation(services: Services, user: str, conversation_id: object) -> Document:
    """The whole stored conversation.

    Raises:
        NotFound, Forbidden, BadInput.
    """
    cid = required_id(conversation_id)
    doc = await conversation_store.find_one(services.database, user, cid)
    if doc is None:
        raise await missing_conversation(services, user, cid)
    return doc


async def _update(services: Services, user: str, cid: str, changes: Document) -> Document:
    doc = await conversation_store.update_fields(services.database, user, cid, changes)
    if doc is None:
        raise await missing_conversation(services, user, cid)
    await services.events.publish(ConversationEvent("updated", user, (cid,)))
    return doc


async def update_title(
    services: Services, user: str, conversation_id: object, title: object = MISSING
) -> Document:
    """Rename: the title is trimmed, then cut to 1,024 characters (an empty title is allowed).

    Never creates a conversation (LibreChat upserts a stub; we answer 404).
    """
    cid = required_id(conversation_id)
    if title is MISSING:
        raise BadInput("title is required")
    if not isinstance(title, str):
        raise BadInput("title must be a string")
    clean = title.strip()[:MAX_TITLE_LENGTH]
    return await _update(services, user, cid, {"title": clean, "updatedAt": utcnow()})


async def archive(
    services: Services, user: str, conversation_id: object, is_archived: object = MISSING
) -> Document:
    """Archive or unarchive; ``updatedAt`` is left alone so list order follows activity."""
    cid = required_id(conversation_id)
    flag = required_bool(is_archived, "isArchived")
    return await _update(
        services, user, cid, {"isArchived": flag, "archivedAt": utcnow() if flag else None}
    )


async def pin(
    services: Services, user: str, conversation_id: object, pinned: object = MISSING
) -> Document:
    cid = required_id(conversation_id)
    flag = required_bool(pinned, "pinned")
    return await _update(services, user, cid, {"pinned": flag})


async def _recount_tags(services: Services, user: str, tags: Sequence[str]) -> None:
    if tags:
        counts = await conversation_store.tag_counts(services.database, user, tags)
        await tag_store.set_counts(services.database, user, counts, utcnow())


@one_at_a_time_per_user
async def delete_conversation(
    services: Services, user: str, conversation_id: object
) -> DeleteResult:
    """Delete one conversation, its messages, and lower its tags' counts."""
    cid = required_id(conversation_id)
    deleted = await conversation_store.delete_one(services.database, user, cid)
    if deleted is None:
        raise await missing_conversation(services, user, cid)
    n_messages = await message_store.delete_for_conversations(services.database, user, [cid])
    tags = [t for t in deleted.get("tags") or [] if isinstance(t, str)]
    await _recount_tags(services, user, tags)
    await services.events.publish(ConversationEvent("deleted", user, (cid,)))
    return DeleteResult(conversations=1, messages=n_messages, conversation_ids=(cid,))


@one_at_a_time_per_user
async def delete_all_conversations(services: Services, user: str) -> DeleteResult:
    """Delete every conversation and message of the user; tag counts drop to 0."""
    n_conversations, ids = await conversation_store.delete_all(services.database, user)
    n_messages = await message_store.delete_all(services.database, user)
    await tag_store.reset_counts(services.database, user, utcnow())
    if ids:
        await services.events.publish(ConversationEvent("deleted", user, tuple(ids)))
    return DeleteResult(
        conversations=n_conversations, messages=n_messages, conversation_ids=tuple(ids)
    )
