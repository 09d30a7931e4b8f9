"""Change events on a user's conversations, for live updates.

Operations publish through an :class:`EventSink`; the process decides where
events go (nowhere, in-process subscribers, or Redis pub/sub for replicas).
Sinks that can also deliver events to subscribers are :class:`EventSource`\\ s
(see ``app/events.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, get_args, runtime_checkable

from resolvers.operations.errors import UserError

EventKind = Literal["created", "updated", "deleted", "title_generated", "imported"]
# The same names as a set, for edges that read kinds back (Redis messages).
EVENT_KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))


@dataclass(frozen=True)
class ConversationEvent:
    """Something happened to one conversation (or, for imports, to several)."""

    kind: EventKind
    user: str
    conversation_ids: tuple[str, ...] = field(default_factory=tuple)


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
