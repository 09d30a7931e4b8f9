"""Fork and duplicate: copy a conversation (or part of its message tree).

Over 400 lines on purpose: fork and duplicate share the tree walk, the
cloning that remaps ids, the tag handling under the user's lock and the undo
when a write fails; they are read together to see that a copy is complete.

The rules GraphQL and REST both call (docs/contract.md#convos-fork and
#convos-duplicate; how they follow LibreChat's algorithms: docs/contract.md#diff-fork).

What differs from LibreChat, on purpose:

- A parent is always cloned before its children and every parent id is
  remapped, so no copied message points at a missing parent; a selected
  message whose parent was not selected becomes a root.
- Messages whose parent is not in the conversation (orphans) count as roots,
  and a cycle of parent links is cut where it is first met, so every message
  has a level and no walk can loop.
- The new conversation's ``messages`` field holds the new messages' ObjectIds,
  what LibreChat's own ``saveConvo`` rebuilds it to (its fork copies the
  source's ids there, its duplicate leaves it empty).
- ``splitAtTarget`` with a ``latestMessageId`` above the target's level is a
  400 (LibreChat silently creates an empty fork).
- Duplicate copies every message (LibreChat drops those deeper than the
  last-created message's level) and honours ``title``.

Writes: no multi-document transactions (a standalone MongoDB has none). The
messages are inserted first, in one ordered batch, then the conversation; if
either write fails, the messages written are deleted again. A crash between
the two leaves only messages no conversation lists, never a visible
conversation with missing messages. A tagged copy's conversation is inserted
under the user's tag lock, with the tags as they are then (see ``_save``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from bson import ObjectId
from pymongo.errors import ConnectionFailure

from resolvers.adapters.services import Services
from resolvers.operations.admission import Admission
from resolvers.operations.clock import parse_iso, utcnow
from resolvers.operations.conversations import missing_conversation
from resolvers.operations.errors import BadInput, NotFound
from resolvers.operations.events import ConversationEvent, EventKind
from resolvers.operations.tag_counts import recount
from resolvers.operations.validation import MAX_TITLE_LENGTH, check_id, clean_title
from storage import conversations as conversation_store
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Document
from storage.documents import DEFAULT_TITLE, NO_PARENT, tag_names

log = logging.getLogger(__name__)

MESSAGE_NOT_FOUND: Final = "Message not found"
FORK_SUFFIX: Final = " (Fork)"
_ONE_MS = timedelta(milliseconds=1)


class ForkOption(StrEnum):
    """Which messages a fork keeps (LibreChat's names)."""

    DIRECT_PATH = "directPath"
    INCLUDE_BRANCHES = "includeBranches"
    TARGET_LEVEL = "targetLevel"


@dataclass(frozen=True)
class SplitAt:
    """Start the fork at the target's level and take it at ``latest_message_id``."""

    latest_message_id: str


class ForkAdmission(Admission):
    """One fork or duplicate (one budget) the rate limits admitted; see :func:`admit_fork`."""

    action = "fork"


# Count one fork or duplicate against the user's and the IP's budgets.
admit_fork = ForkAdmission.admit


def split_at(split_at_target: bool, latest_message_id: str | None) -> SplitAt | None:
    """LibreChat's ``splitAtTarget`` + ``latestMessageId`` pair as one value.

    Raises:
        BadInput: ``split_at_target`` without a ``latest_message_id``.
    """
    if not split_at_target:
        return None
    if not latest_message_id:
        raise BadInput("latestMessageId is required")
    return SplitAt(check_id(latest_message_id, "latestMessageId"))


def new_id() -> str:
    """A new conversation or message id: a uuid4, as LibreChat makes them."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ConversationCopy:
    """A new conversation and its new messages (parents before children)."""

    conversation: Document
    messages: list[Document]


# --- the message tree -------------------------------------------------------


@dataclass
class MessageTree:
    """A conversation's messages as a forest, in stored (createdAt, _id) order.

    ``parent`` is the effective parent: None for roots, orphans and the
    message where a cycle was cut.
    """

    order: list[str]
    docs: dict[str, Document]
    parent: dict[str, str | None]

    @classmethod
    def build(cls, messages: Sequence[Document]) -> MessageTree:
        order: list[str] = []
        docs: dict[str, Document] = {}
        for i, doc in enumerate(messages):
            mid = doc.get("messageId")
            # A message without a usable id still gets copied (as a root).
            key = mid if isinstance(mid, str) and mid not in docs else f"\0{i}"
            order.append(key)
            docs[key] = doc
        parent: dict[str, str | None] = {}
        for key in order:
            pid = docs[key].get("parentMessageId")
            parent[key] = pid if isinstance(pid, str) and pid in docs and pid != key else None
        _cut_cycles(order, parent)
        return cls(order, docs, parent)

    def children(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {key: [] for key in self.order}
        for key in self.order:
            pid = self.parent[key]
            if pid is not None:
                result[pid].append(key)
        return result

    def levels(self) -> dict[str, int]:
        """Depth of every message, roots at 0 (breadth-first, stored order)."""
        children = self.children()
        level: dict[str, int] = {}
        current = [key for key in self.order if self.parent[key] is None]
        depth = 0
        while current:
            following: list[str] = []
            for key in current:
                level[key] = depth
                following.extend(children[key])
            current = following
            depth += 1
        return level

    def path_to_root(self, target: str) -> list[str]:
        """``target`` and its ancestors, target first."""
        path = [target]
        pid = self.parent[target]
        while pid is not None:
            path.append(pid)
            pid = self.parent[pid]
        return path

    def split_at(self, target: str) -> MessageTree:
        """The tree from ``target``'s level down: that level's messages become roots."""
        levels = self.levels()
        cut = levels[target]
        order = [key for key in self.order if levels[key] >= cut]
        parent = {key: (None if levels[key] == cut else self.parent[key]) for key in order}
        return MessageTree(order, {key: self.docs[key] for key in order}, parent)


def _cut_cycles(order: list[str], parent: dict[str, str | None]) -> None:
    """Make the parent links a forest: cut each cycle at the first message met."""
    done: set[str] = set()
    for start in order:
        walk: list[str] = []
        on_walk: set[str] = set()
        key: str | None = start
        while key is not None and key not in done:
            if key in on_walk:
                parent[key] = None
                break
            walk.append(key)
            on_walk.add(key)
            key = parent[key]
        done.update(walk)


def select(tree: MessageTree, target: str, option: ForkOption) -> set[str]:
    """The messages a fork at ``target`` keeps (docs/contract.md#convos-fork).

    - directPath: the target and its ancestors.
    - includeBranches: that path plus every child of a path message other than
      the target (the siblings at each level; not the target's children).
    - targetLevel: every message at the target's depth or above, all branches.
    """
    if option is ForkOption.DIRECT_PATH:
        return set(tree.path_to_root(target))
    if option is ForkOption.INCLUDE_BRANCHES:
        path = tree.path_to_root(target)
        on_path = set(path)
        return on_path | {
            key for key in tree.order if tree.parent[key] in on_path and tree.parent[key] != target
        }
    levels = tree.levels()
    depth = levels[target]
    return {key for key in tree.order if levels[key] <= depth}


# --- cloning ----------------------------------------------------------------


def _parents_first(tree: MessageTree, keys: set[str]) -> list[str]:
    """``keys`` in stored order, except that each parent comes before its children."""
    emitted: set[str] = set()
    result: list[str] = []
    for key in tree.order:
        if key not in keys or key in emitted:
            continue
        chain: list[str] = []
        current: str | None = key
        while current is not None and current in keys and current not in emitted:
            chain.append(current)
            current = tree.parent[current]
        for item in reversed(chain):
            emitted.add(item)
            result.append(item)
    return result


def _timestamp(value: object, fallback: datetime) -> datetime:
    """A stored timestamp as naive UTC; strings are parsed, junk becomes ``fallback``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_iso(value)
        except ValueError:
            return fallback
    else:
        return fallback
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def clone_messages(
    tree: MessageTree,
    keys: set[str],
    *,
    user: str,
    conversation_id: str,
    endpoint: str | None,
    now: datetime,
) -> list[Document]:
    """New messages for ``keys``: new ids, parents remapped, parents first.

    Each ``createdAt`` is kept but forced strictly after the parent's copy
    (+1 ms), so ordering by ``createdAt`` rebuilds the tree. Every other field
    is copied; like LibreChat's builder, ``unfinished`` and ``error`` are reset
    and a message without an endpoint takes the conversation's.
    """
    new_ids: dict[str, str] = {}
    created: dict[str, datetime] = {}
    result: list[Document] = []
    for key in _parents_first(tree, keys):
        source = tree.docs[key]
        pid = tree.parent[key]
        moment = _timestamp(source.get("createdAt"), now)
        parent_copy: str | None = None
        if pid is not None and pid in new_ids:
            parent_copy = new_ids[pid]
            if moment <= created[pid]:
                moment = created[pid] + _ONE_MS
        copy_id = new_id()
        new_ids[key] = copy_id
        created[key] = moment
        # _id first, where MongoDB and LibreChat's responses put it.
        doc = {"_id": ObjectId(), **{k: v for k, v in source.items() if k != "_id"}}
        doc.update(
            messageId=copy_id,
            conversationId=conversation_id,
            user=user,
            parentMessageId=parent_copy or NO_PARENT,
            createdAt=moment,
            unfinished=False,
            error=False,
        )
        updated = doc.get("updatedAt")
        if isinstance(updated, datetime) and updated < moment:
            doc["updatedAt"] = moment
        if not doc.get("endpoint") and endpoint:
            doc["endpoint"] = endpoint
        result.append(doc)
    return result


def new_conversation(
    source: Document,
    *,
    conversation_id: str,
    user: str,
    title: str,
    messages: Sequence[Document],
    now: datetime,
) -> Document:
    """Every field of ``source`` but ``_id``, with a new id, title and timestamps."""
    doc = {"_id": ObjectId(), **{k: v for k, v in source.items() if k != "_id"}}
    doc.update(
        conversationId=conversation_id,
        user=user,
        title=title,
        createdAt=now,
        updatedAt=now,
        messages=[m["_id"] for m in messages],
    )
    return doc


async def _delete_messages(services: Services, user: str, messages: Iterable[Document]) -> None:
    try:
        await message_store.delete_by_ids(services.database, user, [m["_id"] for m in messages])
    except ConnectionFailure as exc:
        # The database is down (the likely cause of the failed copy too): one
        # line, not a traceback per copy, while it is.
        log.warning("could not delete the messages of a failed copy: %s", type(exc).__name__)
    except Exception:  # the original failure is what the caller must see
        log.exception("could not delete the messages of a failed copy")


async def _save(services: Services, user: str, copy: ConversationCopy, source_id: str) -> None:
    """Write messages, then the conversation; undo the messages if either fails.

    A tagged copy is inserted under the user's tag lock, its tags taken as they
    stand then: a tag deleted (or renamed) between reading the source and this
    insert would otherwise stay on the copy with no tag document, since the
    deletion only pulled it from the conversations that existed.
    """
    inserted = False
    try:
        await message_store.insert_many(services.database, copy.messages)
        if tag_names(copy.conversation):
            async with services.locks.hold(user):
                copy.conversation["tags"] = await _tags_now(
                    services, user, source_id, tag_names(copy.conversation)
                )
                await conversation_store.insert(services.database, copy.conversation)
                inserted = True
                await recount(services, user, tag_names(copy.conversation))
        else:
            await conversation_store.insert(services.database, copy.conversation)
            inserted = True
    except BaseException:
        if not inserted:
            await _delete_messages(services, user, copy.messages)
        raise
    await services.events.publish(
        ConversationEvent(EventKind.CREATED, user, (copy.conversation["conversationId"],))
    )


async def _tags_now(services: Services, user: str, source_id: str, read: list[str]) -> list[str]:
    """The copy's tags under the user's tag lock: the source's current ones
    (a deletion or rename since the read is followed), or, when the source was
    deleted meanwhile, those read that still have a tag document."""
    source = await conversation_store.find_one(services.database, user, source_id, {"tags": 1})
    if source is not None:
        return tag_names(source)
    existing = {doc["tag"] for doc in await tag_store.find_many(services.database, user, read)}
    return [name for name in read if name in existing]


async def _load(
    services: Services, user: str, conversation_id: str
) -> tuple[Document, list[Document]]:
    source = await conversation_store.find_one(services.database, user, conversation_id)
    if source is None:
        raise await missing_conversation(services, user, conversation_id)
    messages = await message_store.for_conversations(services.database, user, [conversation_id])
    return source, messages


def _fork_title(source: Document) -> str:
    base = source.get("title")
    base = base if isinstance(base, str) and base else DEFAULT_TITLE
    return base[: MAX_TITLE_LENGTH - len(FORK_SUFFIX)] + FORK_SUFFIX


# --- operations ---------------------------------------------------------------


async def fork_conversation(
    services: Services,
    admission: ForkAdmission,
    *,
    conversation_id: str,
    message_id: str,
    option: ForkOption = ForkOption.TARGET_LEVEL,
    split: SplitAt | None = None,
) -> ConversationCopy:
    """Copy part of a conversation's tree into a new conversation "<title> (Fork)"
    for the admitted user (the fork budget is shared with duplicate).

    Raises:
        BadInput: an empty or overlong id, or a ``split`` whose latest message
            is above ``message_id``'s level.
        NotFound: unknown conversation, or a message not in it.
        Forbidden: another user's conversation.
    """
    user = admission.spend()
    cid = check_id(conversation_id)
    target = check_id(message_id, "messageId")
    latest = None if split is None else check_id(split.latest_message_id, "latestMessageId")

    source, messages = await _load(services, user, cid)
    tree = MessageTree.build(messages)
    if target not in tree.docs or (latest is not None and latest not in tree.docs):
        raise NotFound(MESSAGE_NOT_FOUND)
    if latest is not None:
        tree = tree.split_at(target)
        if latest not in tree.docs:
            raise BadInput("latestMessageId must be at or below the level of messageId")
        target = latest

    now = utcnow()
    conversation_copy = _copy(
        source, tree, select(tree, target, option), user=user, title=_fork_title(source), now=now
    )
    await _save(services, user, conversation_copy, cid)
    return conversation_copy


async def duplicate_conversation(
    services: Services,
    admission: ForkAdmission,
    *,
    conversation_id: str,
    title: str | None = None,
) -> ConversationCopy:
    """Copy a whole conversation (every message, same tree, new ids) for the
    admitted user.

    ``title`` (trimmed, cut to 1,024 characters) names the copy; None or
    blank keeps the source's title.

    Raises:
        BadInput, NotFound, Forbidden.
    """
    user = admission.spend()
    cid = check_id(conversation_id)
    wanted = clean_title(title) if title is not None else ""

    source, messages = await _load(services, user, cid)
    tree = MessageTree.build(messages)
    source_title = source.get("title")
    name = wanted or (source_title if isinstance(source_title, str) else DEFAULT_TITLE)
    conversation_copy = _copy(source, tree, set(tree.order), user=user, title=name, now=utcnow())
    await _save(services, user, conversation_copy, cid)
    return conversation_copy


def _copy(
    source: Document,
    tree: MessageTree,
    keys: set[str],
    *,
    user: str,
    title: str,
    now: datetime,
) -> ConversationCopy:
    conversation_id = new_id()
    endpoint = source.get("endpoint")
    messages = clone_messages(
        tree,
        keys,
        user=user,
        conversation_id=conversation_id,
        endpoint=endpoint if isinstance(endpoint, str) else None,
        now=now,
    )
    conversation = new_conversation(
        source,
        conversation_id=conversation_id,
        user=user,
        title=title,
        messages=messages,
        now=now,
    )
    return ConversationCopy(conversation=conversation, messages=messages)
