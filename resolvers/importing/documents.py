"""The LibreChat documents an import produces, and the builder that makes them.

One :class:`ConversationBuilder` per imported conversation gives every message
a new id, remaps its parent, and keeps ``createdAt`` strictly after the
parent's, as LibreChat's own import does (it rebuilds trees from that order).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.documents import NO_PARENT as NO_PARENT  # re-exported to the format modules

from .timestamps import ONE_MS

# finishConversation's fallback title in LibreChat.
DEFAULT_TITLE = "Imported Chat"
# Model and sender fallbacks when an export does not say which model answered.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# Claude exports do not record the model.
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-20250514"
OPENAI_ENDPOINT = "openAI"
ANTHROPIC_ENDPOINT = "anthropic"


@dataclass(frozen=True, slots=True)
class ImportContext:
    """Who imports, and when; the same for every conversation of a file."""

    user_id: str
    # Naive UTC, millisecond precision (see timestamps.storage_time).
    now: datetime


@dataclass(slots=True)
class ParsedConversation:
    """One conversation ready to insert.

    Attributes:
        conversation: The ``conversations`` document (no ``_id``, no
            ``messages`` array: the writer fills those after inserting).
        messages: The ``messages`` documents, every parent before its
            children.
    """

    conversation: dict[str, Any]
    messages: list[dict[str, Any]]


class ConversationBuilder:
    """Collects the messages of one conversation under fresh ids."""

    def __init__(
        self, context: ImportContext, *, endpoint: str, start: datetime | None = None
    ) -> None:
        """Start a conversation.

        Args:
            context: The importing user and the import time.
            endpoint: The conversation's endpoint, the default for its messages.
            start: The time given to a root message that has none; the import
                time when None.
        """
        self.conversation_id = str(uuid.uuid4())
        self.messages: list[dict[str, Any]] = []
        self._context = context
        self._endpoint = endpoint
        self._start = start if start is not None else context.now
        # New message id -> createdAt, to place children after their parent.
        self._times: dict[str, datetime] = {}

    def add_message(
        self,
        *,
        parent_id: str,
        created_at: datetime | None,
        sender: str,
        text: str,
        is_created_by_user: bool,
        model: str | None,
        endpoint: str | None = None,
        content: list[Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Add one message and return its new ``messageId``.

        Args:
            parent_id: The new id of a message already added, or ``NO_PARENT``.
            created_at: The source's time (naive UTC, ms); None when unknown,
                which places the message 1 ms after its parent (or at the
                conversation's start for a root).
            sender: LibreChat's ``sender`` label.
            text: The message text.
            is_created_by_user: True for the user's messages.
            model: The model that answered, or the conversation's model.
            endpoint: The message's own endpoint; the conversation's when None.
            content: Structured content parts, when the message has them.
            extra: Further LibreChat message fields to keep (never overriding
                the ones above).

        Returns:
            The new message id, to pass as ``parent_id`` for its children.
        """
        parent_time: datetime | None = None
        if parent_id != NO_PARENT:
            # A KeyError here is a converter bug: parents are added first.
            parent_time = self._times[parent_id]
        if created_at is None:
            created_at = parent_time + ONE_MS if parent_time is not None else self._start
        elif parent_time is not None and created_at <= parent_time:
            created_at = parent_time + ONE_MS
        message_id = str(uuid.uuid4())
        document: dict[str, Any] = dict(extra) if extra else {}
        document.update(
            messageId=message_id,
            conversationId=self.conversation_id,
            user=self._context.user_id,
            parentMessageId=parent_id,
            sender=sender,
            text=text,
            isCreatedByUser=is_created_by_user,
            model=model,
            endpoint=endpoint or self._endpoint,
            error=False,
            unfinished=False,
            createdAt=created_at,
            updatedAt=created_at,
        )
        if content is not None:
            document["content"] = content
        self.messages.append(document)
        self._times[message_id] = created_at
        return message_id

    def finish(
        self,
        *,
        title: str,
        model: str,
        created_at: datetime | None,
        tags: list[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ParsedConversation | None:
        """The finished conversation, or None when it has no message to import.

        Args:
            title: The conversation title.
            model: The conversation's model.
            created_at: The conversation's time; its earliest message's when
                None. ``updatedAt`` is the same time, as in LibreChat's import,
                so imported conversations sort by when they began.
            tags: Tag names carried by the conversation.
            extra: Further conversation fields to keep (preset fields of a
                LibreChat export), never overriding the ones above.

        Returns:
            The documents to insert, or None for an empty conversation.
        """
        if not self.messages:
            return None
        if created_at is None:
            created_at = min(message["createdAt"] for message in self.messages)
        conversation: dict[str, Any] = dict(extra) if extra else {}
        conversation.update(
            conversationId=self.conversation_id,
            user=self._context.user_id,
            title=title,
            endpoint=self._endpoint,
            model=model,
            isArchived=False,
            tags=list(tags or []),
            createdAt=created_at,
            updatedAt=created_at,
        )
        return ParsedConversation(conversation=conversation, messages=self.messages)
