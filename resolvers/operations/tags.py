"""Tag (bookmark) operations: the rules GraphQL and REST both call.

Counts are recomputed after every change (see ``resolvers.operations.tag_counts``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from resolvers.adapters.services import Services
from resolvers.operations.clock import utcnow
from resolvers.operations.conversations import missing_conversation
from resolvers.operations.errors import BadInput, Conflict, NotFound
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.operations.locks import one_at_a_time_per_user
from resolvers.operations.tag_counts import recount
from resolvers.operations.validation import (
    MAX_DESCRIPTION_LENGTH,
    MAX_PAGE_NUMBER,
    MAX_TAG_LENGTH,
    check_id,
    check_optional_length,
    check_range,
    check_tag,
    check_tags,
)
from storage import conversations as conversation_store
from storage import tags as tag_store
from storage.database import Document
from storage.documents import tag_names

TAG_NOT_FOUND = "Tag not found"
DEFAULT_TAG_PAGE_SIZE = 25
# GET /api/tags/list's `sort` names and the stored fields they order by.
TAG_SORTS = {
    "name": "tag",
    "tag": "tag",
    "count": "count",
    "position": "position",
    "createdAt": "createdAt",
    "updatedAt": "updatedAt",
}


@dataclass
class TagPage:
    tags: list[Document]
    page_number: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


async def list_tags(services: Services, user: str) -> list[Document]:
    """All of the user's tags, by position."""
    return await tag_store.list_all(services.database, user)


async def list_tags_page(
    services: Services,
    user: str,
    *,
    page_number: int | None,
    sort: str | None = None,
    order: str | None = None,
    page_size: int | None = None,
) -> TagPage:
    """One page of the user's tags (``GET /api/tags/list``); ``page_number`` is required."""
    number = check_range(page_number, "pageNumber", minimum=1, maximum=MAX_PAGE_NUMBER)
    if number is None:
        raise BadInput("pageNumber is required")
    size = check_range(page_size, "pageSize", minimum=1) or DEFAULT_TAG_PAGE_SIZE
    size = min(size, 100)
    sort_name = check_optional_length(sort, "sort", 32) or "position"
    field = TAG_SORTS.get(sort_name)
    if field is None:
        raise BadInput("sort must be one of name, count, position, createdAt, updatedAt")
    order_name = check_optional_length(order, "order", 8) or "asc"
    if order_name not in ("asc", "desc"):
        raise BadInput("order must be asc or desc")
    direction = 1 if order_name == "asc" else -1
    tags = await tag_store.list_page(
        services.database,
        user,
        sort=[(field, direction), ("_id", direction)],
        skip=(number - 1) * size,
        limit=size,
    )
    total = await tag_store.count(services.database, user)
    return TagPage(tags=tags, page_number=number, page_size=size, total=total)


async def ensure_tags(
    services: Services, user: str, names: Sequence[str], *, created: list[str] | None = None
) -> None:
    """Create the tags that do not exist yet, at the end of the user's order.

    Args:
        services: The process's services.
        user: The tags' owner.
        names: The tags wanted.
        created: When given, each tag this call creates is appended as soon
            as it exists (a concurrent creation is not), so a caller undoing
            its work after a failure half-way removes exactly those.
    """
    existing = {d["tag"] for d in await tag_store.find_many(services.database, user, names)}
    missing = [n for n in dict.fromkeys(names) if n not in existing]
    if not missing:
        return
    position = await tag_store.next_position(services.database, user)
    now = utcnow()
    for offset, name in enumerate(missing):
        _, new = await tag_store.insert(
            services.database, user, name, description=None, position=position + offset, now=now
        )
        if new and created is not None:
            created.append(name)


@one_at_a_time_per_user
async def create_tag(
    services: Services,
    user: str,
    *,
    tag: str,
    description: str | None = None,
    conversation_id: str | None = None,
) -> Document:
    """Create a tag (an existing one is returned unchanged), and put it on
    ``conversation_id`` when one is given.
    """
    name = check_tag(tag)
    text = check_optional_length(description, "description", MAX_DESCRIPTION_LENGTH)
    cid = None if conversation_id is None else check_id(conversation_id)
    if (
        cid is not None
        and await conversation_store.find_one(services.database, user, cid, {"_id": 1}) is None
    ):
        raise await missing_conversation(services, user, cid)

    doc = await tag_store.find(services.database, user, name)
    if doc is None:
        position = await tag_store.next_position(services.database, user)
        doc, _ = await tag_store.insert(
            services.database, user, name, description=text, position=position, now=utcnow()
        )
    if cid is None:
        return doc
    if await conversation_store.add_tag(services.database, user, cid, name, utcnow()) is None:
        raise await missing_conversation(services, user, cid)  # deleted meanwhile
    await recount(services, user, [name])
    await services.events.publish(ConversationEvent(EventKind.UPDATED, user, (cid,)))
    updated = await tag_store.find(services.database, user, name)
    return updated or doc


@one_at_a_time_per_user
async def update_tag(
    services: Services,
    user: str,
    *,
    tag: str,
    new_name: str | None = None,
    description: str | None = None,
    position: int | None = None,
) -> Document:
    """Rename, describe or move a tag; a rename follows onto every conversation."""
    name = check_tag(tag)
    rename = None if new_name is None else check_tag(new_name)
    text = check_optional_length(description, "description", MAX_DESCRIPTION_LENGTH)
    target = check_range(position, "position", minimum=0)

    current = await tag_store.find(services.database, user, name)
    if current is None:
        raise NotFound(TAG_NOT_FOUND)
    now = utcnow()
    changes: Document = {"updatedAt": now}
    if rename is not None and rename != name:
        if await tag_store.find(services.database, user, rename) is not None:
            raise Conflict("Tag already exists")
        changes["tag"] = rename
    if text is not None:
        changes["description"] = text
    old_position = current.get("position")
    if target is not None and isinstance(old_position, int) and target != old_position:
        last = await tag_store.count(services.database, user) - 1
        target = min(target, max(last, 0))
        if target > old_position:
            await tag_store.shift_positions(
                services.database,
                user,
                low=old_position + 1,
                high=target,
                delta=-1,
                exclude_tag=name,
            )
        elif target < old_position:
            await tag_store.shift_positions(
                services.database,
                user,
                low=target,
                high=old_position - 1,
                delta=1,
                exclude_tag=name,
            )
        changes["position"] = target
    elif target is not None:
        changes["position"] = target

    try:
        doc = await tag_store.update(services.database, user, name, changes)
    except DuplicateKeyError as exc:  # renamed concurrently onto the same name
        raise Conflict("Tag already exists") from exc
    if doc is None:
        raise NotFound(TAG_NOT_FOUND)
    if "tag" in changes:
        await conversation_store.rename_tag(services.database, user, name, changes["tag"], now)
    return doc


@one_at_a_time_per_user
async def delete_tag(services: Services, user: str, *, tag: str) -> Document:
    """Delete a tag, take it off every conversation, close the gap in positions."""
    name = check_tag(tag)
    doc = await tag_store.delete(services.database, user, name)
    if doc is None:
        raise NotFound(TAG_NOT_FOUND)
    await conversation_store.pull_tag(services.database, user, name, utcnow())
    position = doc.get("position")
    if isinstance(position, int):
        await tag_store.shift_positions(
            services.database, user, low=position + 1, high=None, delta=-1
        )
    return doc


@one_at_a_time_per_user
async def set_conversation_tags(
    services: Services, user: str, *, conversation_id: str, tags: Sequence[str]
) -> list[str]:
    """Replace a conversation's tags; unknown tags are created, counts follow."""
    cid = check_id(conversation_id)
    names = check_tags(tags)
    before = await conversation_store.find_one(services.database, user, cid, {"tags": 1})
    if before is None:
        raise await missing_conversation(services, user, cid)
    after = await conversation_store.set_tags(services.database, user, cid, names, utcnow())
    if after is None:
        raise await missing_conversation(services, user, cid)
    await ensure_tags(services, user, names)
    await recount(services, user, [*tag_names(before), *names])
    await services.events.publish(ConversationEvent(EventKind.UPDATED, user, (cid,)))
    return names


@one_at_a_time_per_user
async def add_conversation_tag(
    services: Services, user: str, *, conversation_id: str, tag: str
) -> list[str]:
    """Put one tag on a conversation (creating the tag if needed); idempotent."""
    cid = check_id(conversation_id)
    name = check_tag(tag)
    doc = await conversation_store.add_tag(services.database, user, cid, name, utcnow())
    if doc is None:
        raise await missing_conversation(services, user, cid)
    await ensure_tags(services, user, [name])
    await recount(services, user, [name])
    await services.events.publish(ConversationEvent(EventKind.UPDATED, user, (cid,)))
    return tag_names(doc)


@one_at_a_time_per_user
async def rebuild_tags(services: Services, user: str) -> list[Document]:
    """Make the tag documents agree with the conversations (``POST /api/tags/rebuild``).

    Every tag's count is recomputed from the conversations carrying it (0
    when none does); a name a conversation carries without a tag document
    gets one, at the end of the order (names no tag may have, blank or over
    256 characters, are left alone); positions are renumbered 0..n-1 in their
    current order, closing gaps and duplicates another writer left. Returns
    every tag, as ``GET /api/tags`` does.
    """
    carried = await conversation_store.all_tag_counts(services.database, user)
    names = [name for name in sorted(carried) if name.strip() and len(name) <= MAX_TAG_LENGTH]
    await ensure_tags(services, user, names)
    tags = [t for t in await tag_store.list_all(services.database, user) if _named(t)]
    stale = {
        t["tag"]: carried.get(t["tag"], 0)
        for t in tags
        if t.get("count") != carried.get(t["tag"], 0)
    }
    await tag_store.set_counts(services.database, user, stale, utcnow())
    moved = {t["tag"]: i for i, t in enumerate(tags) if t.get("position") != i}
    await tag_store.set_positions(services.database, user, moved)
    return await tag_store.list_all(services.database, user)


def _named(tag: Document) -> bool:
    # Another writer's document without a string name cannot be addressed by name.
    return isinstance(tag.get("tag"), str)
