"""Change events on a user's conversations, for live updates.

Operations publish through an :class:`EventSink`; the process decides where
events go (nowhere, in-process subscribers, or Redis pub/sub for replicas).
Sinks that can also deliver events to subscribers are :class:`EventSource`\\ s
(see ``app/events.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from resolvers.operations.errors import UserError


class EventKind(StrEnum):
    """What happened to a conversation (GraphQL's ``ConversationEventKind``)."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    TITLE_GENERATED = "title_generated"
    IMPORTED = "imported"


T = TypeVar("T")


class SharedReads:
    """What subscriptions read to deliver one event, read once for all of them.

    The fan-out hands the very same event object to every subscriber of its
    user in the process, so the first subscription that needs the conversation
    (or its messages) reads it and the others reuse that read: one read per
    event, not one per subscription. Every subscriber of an event is the
    event's user, so nothing crosses users.

    Reads are kept only while they are worth it: the fan-out calls ``hold``
    once per subscriber it queues the event for, each subscriber ``release``
    when done, and the last release (or a newer event of the same user) calls
    ``retire``. A retired event shares nothing: a subscriber that reaches it
    late reads for itself, which shows the conversation as it is now, and no
    slow subscriber keeps old snapshots alive (at most one event's reads per
    user are held).
    """

    __slots__ = ("_holders", "_retired", "_values")

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._holders = 0
        self._retired = False

    def get(self, key: str, create: Callable[[], T]) -> T:
        """The value stored under ``key``, created by ``create`` on first use."""
        if self._retired:
            return create()
        if key not in self._values:
            self._values[key] = create()
        return cast(T, self._values[key])

    def hold(self) -> None:
        self._holders += 1

    def release(self) -> None:
        self._holders -= 1
        if self._holders <= 0:
            self.retire()

    def retire(self) -> None:
        self._retired = True
        self._values.clear()


@dataclass(frozen=True)
class ConversationEvent:
    """Something happened to one conversation (or, for imports, to several)."""

    kind: EventKind
    user: str
    conversation_ids: tuple[str, ...] = field(default_factory=tuple)
    # Per delivered object, not part of the event's value (see SharedReads).
    shared: SharedReads = field(default_factory=SharedReads, compare=False, repr=False)


class EventSink(Protocol):
    async def publish(self, event: ConversationEvent) -> None: ...


@runtime_checkable
class EventSource(Protocol):
    """A sink whose events can be received again, one user's at a time."""

    async def publish(self, event: ConversationEvent) -> None: ...

    def subscribe(
        self, user: str
    ) -> AbstractAsyncContextManager[AsyncIterator[ConversationEvent]]: ...


class EventsOverflow(UserError):
    """A subscriber fell so far behind that events were dropped."""

    code = "EVENTS_OVERFLOW"


class NoEvents:
    """The sink used when nothing listens."""

    async def publish(self, event: ConversationEvent) -> None:
        return None
