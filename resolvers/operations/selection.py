"""A chosen set of the caller's conversations: up to 1,000 ids, or the list's filter.

Bulk actions and exports take a :class:`Selection`. Its filter form *is* the
conversation list's :class:`~resolvers.operations.conversations.ListQuery`
(only its filter fields are read: archived, tags, search, pinned, and any
filter the list gains, such as dates), turned into the storage filter by the
same function the list uses, so a selection always means what the list shows.

The ids form is all or nothing: an id of another user's conversation refuses
the whole selection (FORBIDDEN, before anything is read or changed), an id
nobody has refuses it as NOT_FOUND, more than :data:`MAX_IDS` is BAD_USER_INPUT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from resolvers.adapters.services import Services
from resolvers.operations import conversations as conversation_ops
from resolvers.operations.errors import BadInput, Forbidden, NotFound
from resolvers.operations.validation import MAX_SEARCH_LENGTH, MAX_TAG_LENGTH, check_id
from storage import conversations as conversation_store
from storage import messages as message_store
from storage import selection as selection_store
from storage.database import Document

MAX_IDS = 1_000
# Conversations read (and changed) per query: bounded memory and bounded
# events, whatever the selection's size.
CHUNK = 1_000
SELECTION_FORBIDDEN = "You don't have access to one or more of the selected conversations"
SELECTION_NOT_FOUND = "One or more of the selected conversations were not found"


@dataclass(frozen=True)
class Selection:
    """Exactly one of ``ids`` or ``filter``.

    Attributes:
        ids: Conversation ids, duplicates allowed (counted once).
        filter: The list's query; sort, cursor and paging fields are ignored.
    """

    ids: Sequence[str] | None = None
    filter: conversation_ops.ListQuery | None = None


@dataclass(frozen=True)
class ResolvedSelection:
    """A checked selection as a storage filter (ids already proven to be the caller's)."""

    query: Document


def _check_ids(ids: Sequence[str]) -> list[str]:
    if not ids:
        raise BadInput("ids must not be empty")
    if len(ids) > MAX_IDS:
        raise BadInput(f"ids must have at most {MAX_IDS} items")
    return list(dict.fromkeys(check_id(cid, "ids") for cid in ids))


async def filter_of(
    services: Services, user: str, query: conversation_ops.ListQuery
) -> conversation_store.ListFilter:
    """The list's storage filter for ``query``, validated as the list validates it."""
    for tag in query.tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise BadInput(f"tags must be at most {MAX_TAG_LENGTH} characters")
    if query.search is not None and len(query.search) > MAX_SEARCH_LENGTH:
        raise BadInput(f"search must be at most {MAX_SEARCH_LENGTH} characters")
    search = query.search if query.search is not None and query.search.strip() else None
    matching = (
        await message_store.conversation_ids_matching(services.database, user, search)
        if search is not None
        else []
    )
    # The list's own mapping, on purpose: a filter the list gains reaches selections too.
    return conversation_ops.list_filter(query, search, matching)


def check_shape(selection: Selection) -> None:
    """Exactly one form, and the ids form within bounds (no I/O: BAD_USER_INPUT first)."""
    if (selection.ids is None) == (selection.filter is None):
        raise BadInput("give either ids or filter")
    if selection.ids is not None:
        _check_ids(selection.ids)


async def resolve(services: Services, user: str, selection: Selection) -> ResolvedSelection:
    """The selection as a storage filter of the caller's conversations.

    Raises:
        BadInput: neither or both forms, no ids, too many, an id or a filter
            value out of range.
        Forbidden: an id belongs to another user (nothing else is looked at).
        NotFound: an id belongs to nobody.
    """
    check_shape(selection)
    if selection.ids is not None:
        ids = _check_ids(selection.ids)
        found = {
            str(d["conversationId"])
            for d in await services.database.conversations.find(
                selection_store.by_ids(user, ids), {"conversationId": 1, "_id": 0}
            ).to_list(None)
        }
        missing = [cid for cid in ids if cid not in found]
        if missing:
            if await selection_store.ids_of_others(services.database, user, missing):
                raise Forbidden(SELECTION_FORBIDDEN)
            raise NotFound(SELECTION_NOT_FOUND)
        return ResolvedSelection(selection_store.by_ids(user, ids))
    assert selection.filter is not None
    flt = await filter_of(services, user, selection.filter)
    return ResolvedSelection(conversation_store.build_filter(user, flt))


def chunks(
    services: Services, resolved: ResolvedSelection, projection: Document
) -> AsyncIterator[list[Document]]:
    """The selected conversations, :data:`CHUNK` per chunk, in ``_id`` order; a
    chunk may be changed before the next is read (see ``storage.selection.chunks``)."""
    return selection_store.chunks(services.database, resolved.query, projection, size=CHUNK)
