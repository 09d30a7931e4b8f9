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

from resolvers.adapters.services import Services
from resolvers.operations import cursor as cursors
from resolvers.operations import search as search_ops
from resolvers.operations.clock import utcnow
from resolvers.operations.date_filters import DateRange, check_date_range
from resolvers.operations.errors import BadInput, conversation_forbidden, conversation_not_found
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.operations.locks import one_at_a_time_per_user
from resolvers.operations.tag_counts import recount
from resolvers.operations.validation import (
    MAX_PAGE_NUMBER,
    MAX_SEARCH_LENGTH,
    MAX_TAG_LENGTH,
    check_id,
    check_optional_length,
    clean_title,
)
from storage import conversations as conversation_store
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Document
from storage.documents import DEFAULT_TITLE, tag_names

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
    # Parsed by resolvers.operations.date_filters (text) or GraphQL (DateTime).
    dates: DateRange = DateRange()


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

    def list_items(self) -> list[Document]:
        """The items as a list shows them: every promised key, defaulted when unstored.

        Copies: ``items`` keep the stored values, which cursors are built
        from (a missing title sorts first, "New Chat" would not).
        """
        return [list_item(doc) for doc in self.items]


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


def list_filter(
    query: ListQuery, search: str | None, matching_ids: list[str]
) -> conversation_store.ListFilter:
    return conversation_store.ListFilter(
        is_archived=query.is_archived,
        tags=list(query.tags) or None,
        pinned=query.pinned,
        search=search,
        search_conversation_ids=matching_ids,
        dates=check_date_range(query.dates),
    )


def list_item(doc: Document) -> Document:
    """A list item with the keys the contract promises on each, with LibreChat's
    schema defaults where an old document lacks them.
    """
    item = {"title": DEFAULT_TITLE, "endpoint": None, "model": None, **doc}
    item.setdefault("isArchived", False)
    item.setdefault("tags", [])
    return item


async def list_conversations(
    services: Services, user: str, query: ListQuery, *, with_total: bool = True
) -> ConversationPage:
    """A page of the user's conversations (docs/contract.md#convos-list).

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
    search = check_optional_length(query.search, "search", MAX_SEARCH_LENGTH)
    if search is not None and not search.strip():
        search = None
    if query.page_number is not None and query.page_number < 1:
        raise BadInput("pageNumber must be at least 1")
    if query.page_number is not None and query.page_number > MAX_PAGE_NUMBER:
        raise BadInput(f"pageNumber must be at most {MAX_PAGE_NUMBER}")

    position = cursors.decode(query.cursor, query.sort_by, direction) if query.cursor else None
    flt = list_filter(query, search, [])
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
    items = docs[:limit]
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


async def get_conversation(services: Services, user: str, *, conversation_id: str) -> Document:
    """The whole stored conversation.

    Raises:
        NotFound, Forbidden, BadInput.
    """
    cid = check_id(conversation_id)
    doc = await conversation_store.find_one(services.database, user, cid)
    if doc is None:
        raise await missing_conversation(services, user, cid)
    return doc


async def _update(services: Services, user: str, cid: str, changes: Document) -> Document:
    doc = await conversation_store.update_fields(services.database, user, cid, changes)
    if doc is None:
        raise await missing_conversation(services, user, cid)
    await services.events.publish(ConversationEvent(EventKind.UPDATED, user, (cid,)))
    return doc


async def update_title(
    services: Services, user: str, *, conversation_id: str, title: str
) -> Document:
    """Rename: the title is trimmed, then cut to 1,024 characters (an empty title is allowed).

    Never creates a conversation (LibreChat upserts a stub; we answer 404).
    """
    cid = check_id(conversation_id)
    return await _update(services, user, cid, {"title": clean_title(title), "updatedAt": utcnow()})


async def archive(
    services: Services, user: str, *, conversation_id: str, is_archived: bool
) -> Document:
    """Archive or unarchive; ``updatedAt`` is left alone so list order follows activity."""
    cid = check_id(conversation_id)
    return await _update(
        services,
        user,
        cid,
        {"isArchived": is_archived, "archivedAt": utcnow() if is_archived else None},
    )


async def archive_all(services: Services, user: str) -> int:
    """Archive every conversation the default list shows (docs/contract.md#convos-archive-all).

    One ``archivedAt`` for the whole sweep; each ``updatedAt`` is kept.
    Temporary and already archived conversations are left as they are.
    Returns how many were archived.
    """
    now = utcnow()
    archived = await conversation_store.archive_listed(services.database, user, now)
    if archived:
        ids = await conversation_store.ids_archived_at(services.database, user, now)
        await services.events.publish(ConversationEvent(EventKind.UPDATED, user, tuple(ids)))
    return archived


async def pin(services: Services, user: str, *, conversation_id: str, pinned: bool) -> Document:
    cid = check_id(conversation_id)
    return await _update(services, user, cid, {"pinned": pinned})


@one_at_a_time_per_user
async def delete_conversation(
    services: Services,
    user: str,
    *,
    conversation_id: str | None,
    thread_id: str | None = None,
    endpoint: str | None = None,
    source: str | None = None,
) -> DeleteResult:
    """Delete one conversation, its messages, and lower its tags' counts.

    ``thread_id``, ``endpoint`` and ``source`` name an assistants thread in
    LibreChat; they are accepted (a request naming only them is not "empty")
    but there is no assistants backend here whose thread could be deleted.

    Raises:
        BadInput: nothing named ("no parameters provided"), or no conversation id.
        NotFound, Forbidden.
    """
    if not (conversation_id or thread_id or endpoint or source):
        raise BadInput("no parameters provided")
    cid = check_id(conversation_id or "")
    deleted = await conversation_store.delete_one(services.database, user, cid)
    if deleted is None:
        raise await missing_conversation(services, user, cid)
    n_messages = await message_store.delete_for_conversations(services.database, user, [cid])
    await recount(services, user, tag_names(deleted))
    await services.events.publish(ConversationEvent(EventKind.DELETED, user, (cid,)))
    return DeleteResult(conversations=1, messages=n_messages, conversation_ids=(cid,))


@one_at_a_time_per_user
async def delete_all_conversations(services: Services, user: str) -> DeleteResult:
    """Delete every conversation and message of the user; tag counts drop to 0."""
    n_conversations, ids = await conversation_store.delete_all(services.database, user)
    n_messages = await message_store.delete_all(services.database, user)
    await tag_store.reset_counts(services.database, user, utcnow())
    if ids:
        await services.events.publish(ConversationEvent(EventKind.DELETED, user, tuple(ids)))
    return DeleteResult(
        conversations=n_conversations, messages=n_messages, conversation_ids=tuple(ids)
    )
