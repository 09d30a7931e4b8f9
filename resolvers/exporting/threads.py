"""A conversation's messages as LibreChat shows them: the visible thread and its branches.

LibreChat opens a conversation at its latest message and shows the path from
the root to it; a message with siblings shows "k / n" arrows. The latest
message is the last in tree-rebuild order (``createdAt``, then ``_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.database import Document


@dataclass(frozen=True)
class ThreadStep:
    """One message of the visible thread, and where it sits among its siblings."""

    message: Document
    branch: int  # 1-based position among its siblings
    branches: int  # how many siblings (itself included)


def visible_thread(messages: Sequence[Document]) -> list[ThreadStep]:
    """The path from a root to the latest message, oldest first.

    ``messages`` are one conversation's, in tree-rebuild order. A parent
    missing from the conversation ends the path (the message is a root);
    a cycle in stored links ends it too.
    """
    if not messages:
        return []
    by_id = {str(m.get("messageId")): m for m in messages}
    siblings: dict[str, list[str]] = {}
    for m in messages:
        siblings.setdefault(_parent_key(m, by_id), []).append(str(m.get("messageId")))
    path: list[Document] = []
    seen: set[str] = set()
    current: Document | None = messages[-1]
    while current is not None:
        key = str(current.get("messageId"))
        if key in seen:
            break
        seen.add(key)
        path.append(current)
        parent = _parent_key(current, by_id)
        current = by_id.get(parent) if parent else None
    steps = []
    for m in reversed(path):
        group = siblings.get(_parent_key(m, by_id), [])
        key = str(m.get("messageId"))
        steps.append(ThreadStep(m, group.index(key) + 1 if key in group else 1, len(group)))
    return steps


def _parent_key(message: Document, by_id: dict[str, Document]) -> str:
    parent = message.get("parentMessageId")
    return str(parent) if isinstance(parent, str) and parent in by_id else ""


def message_text(message: Document) -> str:
    """The text a reader sees: ``text``, else the text parts of ``content``."""
    text = message.get("text")
    if isinstance(text, str) and text:
        return text
    content = message.get("content")
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text":
            value: Any = part.get("text")
            if isinstance(value, dict):
                value = value.get("value")
            if isinstance(value, str):
                parts.append(value)
    return "\n\n".join(parts)


def role(message: Document) -> str:
    return "user" if message.get("isCreatedByUser") else "assistant"
