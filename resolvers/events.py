"""Change events on a user's conversations, for live updates.

Operations publish through an :class:`EventSink`; the process decides where
events go (nowhere, in-process subscribers, or Redis pub/sub for replicas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

EventKind = Literal["created", "updated", "deleted", "title_generated", "imported"]


@dataclass(frozen=True)
class ConversationEvent:
    """Something happened to one conversation (or, for imports, to several)."""

    kind: EventKind
    user: str
    conversation_ids: tuple[str, ...] = field(default_factory=tuple)


class EventSink(Protocol):
    async def publish(self, event: ConversationEvent) -> None: ...


class NoEvents:
    """The sink used when nothing listens."""

    async def publish(self, event: ConversationEvent) -> None:
        return None
