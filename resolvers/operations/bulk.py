"""One action on a selection of conversations: archive, pin, tag or delete many at once.

The whole action runs under the user's lock (``resolvers.operations.locks``),
so tag counts are recounted from the conversations with nothing interleaving,
and a selection is checked whole before the first write: another user's id is
FORBIDDEN and an unknown id NOT_FOUND with nothing changed. The selection is
read and changed one chunk (:data:`~resolvers.operations.selection.CHUNK`
conversations) at a time, each chunk one event carrying its ids.

Each action changes only the conversations it would change (archiving keeps
an archived conversation's ``archivedAt``); ``matched_count`` counts the selection,
``modified_count`` what changed. Updated fields follow the single-conversation
operations: archive and pin leave ``updatedAt`` alone, tag changes set it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from resolvers.adapters.services import Services
from resolvers.operations import selection as selections
from resolvers.operations.clock import utcnow
from resolvers.operations.errors import BadInput
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.operations.locks import one_at_a_time_per_user
from resolvers.operations.tag_counts import recount
from resolvers.operations.tags import ensure_tags
from resolvers.operations.validation import check_tag
from storage import messages as message_store
from storage import selection as selection_store
from storage.database import Document
from storage.documents import tag_names
from storage.librechat_fields import REINDEX


class BulkAction(StrEnum):
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    PIN = "pin"
    UNPIN = "unpin"
    ADD_TAG = "addTag"
    REMOVE_TAG = "removeTag"
    DELETE = "delete"


TAG_ACTIONS = frozenset({BulkAction.ADD_TAG, BulkAction.REMOVE_TAG})


@dataclass(frozen=True)
class BulkResult:
    """What an action matched and changed, named as both edges report it."""

    action: BulkAction
    dry_run: bool
    matched_count: int
    modified_count: int
    deleted_message_count: int = 0


@dataclass(frozen=True)
class _Change:
    """Which selected conversations an action changes, and how."""

    changes: Callable[[Document], bool]
    condition: Document
    update: Document


def _change(action: BulkAction, tag: str | None) -> _Change:
    now = utcnow()
    if action is BulkAction.ARCHIVE:
        return _Change(
            lambda d: d.get("isArchived") is not True,
            {"isArchived": {"$ne": True}},
            {"$set": {"isArchived": True, "archivedAt": now}},
        )
    if action is BulkAction.UNARCHIVE:
        return _Change(
            lambda d: d.get("isArchived") is True,
            {"isArchived": True},
            {"$set": {"isArchived": False, "archivedAt": None}},
        )
    if action is BulkAction.PIN:
        return _Change(
            lambda d: d.get("pinned") is not True,
            {"pinned": {"$ne": True}},
            {"$set": {"pinned": True}},
        )
    if action is BulkAction.UNPIN:
        return _Change(
            lambda d: d.get("pinned") is True, {"pinned": True}, {"$set": {"pinned": False}}
        )
    assert tag is not None
    if action is BulkAction.ADD_TAG:
        return _Change(
            lambda d: tag not in tag_names(d),
            {"tags": {"$ne": tag}},
            {"$addToSet": {"tags": tag}, "$set": {"updatedAt": now, **REINDEX}},
        )
    if action is BulkAction.REMOVE_TAG:
        return _Change(
            lambda d: tag in tag_names(d),
            {"tags": tag},
            {"$pull": {"tags": tag}, "$set": {"updatedAt": now, **REINDEX}},
        )
    raise AssertionError(action)  # delete has its own path


def check_action(action: BulkAction, tag: str | None) -> str | None:
    """The tag a tag action needs (checked), None for the others.

    Raises:
        BadInput: a tag action without a tag, or another action with one.
    """
    if action in TAG_ACTIONS:
        if tag is None:
            raise BadInput(f"tag is required for {action.value}")
        return check_tag(tag)
    if tag is not None:
        raise BadInput(f"tag is only allowed with {BulkAction.ADD_TAG} and {BulkAction.REMOVE_TAG}")
    return None


@one_at_a_time_per_user
async def bulk_update(
    services: Services,
    user: str,
    *,
    selection: selections.Selection,
    action: BulkAction,
    tag: str | None = None,
    dry_run: bool = False,
) -> BulkResult:
    """Apply ``action`` to every selected conversation, or, with ``dry_run``, count them.

    Raises:
        BadInput, Forbidden, NotFound: see :func:`resolvers.operations.selection.resolve`
            and :func:`check_action`; nothing is changed.
    """
    name = check_action(action, tag)
    selections.check_shape(selection)
    resolved = await selections.resolve(services, user, selection)
    if action is BulkAction.DELETE:
        return await _delete(services, user, resolved, dry_run=dry_run)
    change = _change(action, name)
    projection = {"conversationId": 1, "isArchived": 1, "pinned": 1, "tags": 1}
    matched = modified = 0
    async for chunk in selections.chunks(services, resolved, projection):
        matched += len(chunk)
        ids = [str(d["conversationId"]) for d in chunk if change.changes(d)]
        if dry_run or not ids:
            modified += len(ids)
            continue
        modified += await selection_store.update_ids(
            services.database, user, ids, change.condition, change.update
        )
        await _publish(services, EventKind.UPDATED, user, ids)
    if not dry_run and name is not None and modified:
        if action is BulkAction.ADD_TAG:
            await ensure_tags(services, user, [name])
        await recount(services, user, [name])
    return BulkResult(action, dry_run, matched, modified)


async def _delete(
    services: Services, user: str, resolved: selections.ResolvedSelection, *, dry_run: bool
) -> BulkResult:
    matched = deleted = messages = 0
    touched: dict[str, None] = {}
    async for chunk in selections.chunks(services, resolved, {"conversationId": 1, "tags": 1}):
        matched += len(chunk)
        if dry_run:
            continue
        ids = [str(d["conversationId"]) for d in chunk]
        for doc in chunk:
            touched.update(dict.fromkeys(tag_names(doc)))
        deleted += await selection_store.delete_ids(services.database, user, ids)
        messages += await message_store.delete_for_conversations(services.database, user, ids)
        await _publish(services, EventKind.DELETED, user, ids)
    if touched:
        await recount(services, user, touched)
    return BulkResult(
        BulkAction.DELETE, dry_run, matched, matched if dry_run else deleted, messages
    )


async def _publish(services: Services, kind: EventKind, user: str, ids: list[str]) -> None:
    await services.events.publish(ConversationEvent(kind, user, tuple(ids)))
