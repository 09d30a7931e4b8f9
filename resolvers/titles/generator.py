"""What a title generator receives, what it returns, and how it fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["user", "assistant"]

SOURCE_MAX_CHARS = 1000
"""Most characters of one message any generator reads; the topic is at the start."""


@dataclass(frozen=True, slots=True)
class TitleSource:
    """One message a title is derived from.

    A conversation contributes its first user message and its first assistant
    reply, in that order; either may be missing (a conversation imported
    without replies, a message holding only an attachment).
    """

    role: Role
    text: str


class TitleGenerationError(Exception):
    """A generator could not produce a title.

    Never shown to a user: the background runner logs it, and the route
    answers its usual 404 when no title arrives.
    """


class TitleGenerator(Protocol):
    """Anything that turns a conversation's first messages into a title."""

    async def generate(self, messages: Sequence[TitleSource]) -> str:
        """Return a cleaned, non-empty title for ``messages``.

        Raises:
            TitleGenerationError: no title could be produced.
        """
        ...


@runtime_checkable
class AsyncClosable(Protocol):
    """A generator or cache that holds a connection to release on shutdown."""

    async def aclose(self) -> None: ...


def first_text(messages: Sequence[TitleSource], role: Role) -> str:
    """Return the text of the first message with ``role``, or ``""``."""
    for message in messages:
        if message.role == role:
            return message.text
    return ""
