"""Live events from the change feed: every writer's changes, LibreChat's included.

Each process follows the feed itself and delivers what it reads to its own
subscribers only (never through Redis), so replicas add no duplicates. A
change the gateway already announced (its own write, published when made)
is not announced again: the fan-out remembers, for a few seconds, which
(user, conversation) pairs it published an event about, and the feed's first
batch touching that conversation is taken as the echo (once: later changes,
e.g. LibreChat's next message, are announced). The changes of one
feed batch are merged into one event per conversation (a chat turn writes two
messages and the conversation). Deletes made by other writers carry no owner
in the feed and are not announced.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from resolvers.operations.events import ConversationEvent, EventKind
from storage.change_feed import Change
from storage.database import CONVERSATIONS, MESSAGES

# How long an announced change suppresses the feed's copy of it.
ANNOUNCED_WINDOW_S = 5.0
_MAX_REMEMBERED = 10_000


class FreshnessMap:
    """A bounded map of (user, conversation id) to when it was last announced."""

    def __init__(self, limit: int = _MAX_REMEMBERED) -> None:
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._limit = limit

    def touch(self, user: str, conversation_ids: Iterable[str]) -> None:
        now = time.monotonic()
        for cid in conversation_ids:
            key = (user, cid)
            self._seen[key] = now
            self._seen.move_to_end(key)
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)

    def take(self, user: str, conversation_id: str, within_s: float) -> bool:
        """Whether the pair was announced within ``within_s``; forgets it (once)."""
        at = self._seen.pop((user, conversation_id), None)
        return at is not None and time.monotonic() - at < within_s


def events_from_changes(changes: Sequence[Change]) -> list[ConversationEvent]:
    """One event per conversation the changes touched, owner known."""
    kinds: dict[tuple[str, str], EventKind] = {}
    for change in changes:
        doc = change.document
        if doc is None or change.collection not in (CONVERSATIONS, MESSAGES):
            continue
        user, cid = doc.get("user"), doc.get("conversationId")
        if not isinstance(user, str) or not isinstance(cid, str):
            continue
        created = change.collection == CONVERSATIONS and change.operation == "insert"
        if created or (user, cid) not in kinds:
            kinds[(user, cid)] = EventKind.CREATED if created else EventKind.UPDATED
    return [ConversationEvent(kind, user, (cid,)) for (user, cid), kind in kinds.items()]


class FeedEvents:
    """The change feed subscriber that turns changes into conversation events."""

    def __init__(
        self,
        deliver: Callable[[ConversationEvent], None],
        announced: FreshnessMap,
        window_s: float = ANNOUNCED_WINDOW_S,
    ) -> None:
        self._deliver = deliver
        self._announced = announced
        self._window_s = window_s

    async def handle(self, changes: Sequence[Change]) -> None:
        for event in events_from_changes(changes):
            if self._announced.take(event.user, event.conversation_ids[0], self._window_s):
                continue
            self._deliver(event)
