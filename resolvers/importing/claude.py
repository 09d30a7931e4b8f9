"""Claude exports: one array item (with ``chat_messages``) per conversation.

Claude conversations are linear. Thinking parts are kept as LibreChat's
``think`` content so the reasoning shows folded, as it does for Claude
conversations held in LibreChat.
"""

from __future__ import annotations

from typing import Any

from . import documents
from .shape import (
    ROOT,
    Path,
    Problem,
    each_object,
    expect_object,
    optional_list,
    optional_str,
    required_list,
    required_str,
    title_reader,
)
from .timestamps import optional_iso

DEFAULT_CLAUDE_TITLE = "Imported Claude Chat"
_SENDERS = {"human": (True, "user"), "assistant": (False, "Claude")}


title_of = title_reader("name")


def convert(item: object, context: documents.ImportContext) -> documents.ParsedConversation | None:
    """Documents for one item of the top-level array; None when no message has text or thinking.

    Raises:
        Problem: A field has the wrong type, ``chat_messages`` is missing, or
            a message's ``sender`` is neither "human" nor "assistant".
    """
    conversation = expect_object(item, ROOT)
    title = optional_str(conversation, "name", ROOT) or DEFAULT_CLAUDE_TITLE
    model = optional_str(conversation, "model", ROOT) or documents.DEFAULT_ANTHROPIC_MODEL
    created_at = optional_iso(conversation, "created_at", ROOT)
    messages = required_list(conversation, "chat_messages", ROOT)

    builder = documents.ConversationBuilder(
        context, endpoint=documents.ANTHROPIC_ENDPOINT, start=created_at
    )
    parent_id = documents.NO_PARENT
    for message, path in each_object(messages, ROOT.key("chat_messages")):
        sender_name = required_str(message, "sender", path)
        if sender_name not in _SENDERS:
            raise Problem(path.key("sender"), 'must be "human" or "assistant"')
        is_user, sender = _SENDERS[sender_name]
        text, thinking = _read_parts(message, path)
        if is_user:
            # Only the assistant thinks; a user part of that type is not shown.
            thinking = ""
        if not text.strip() and not thinking.strip():
            continue
        content: list[Any] | None = None
        if thinking:
            content = [{"type": "think", "think": thinking}, {"type": "text", "text": text}]
        parent_id = builder.add_message(
            parent_id=parent_id,
            created_at=optional_iso(message, "created_at", path),
            sender=sender,
            text=text,
            is_created_by_user=is_user,
            model=model,
            content=content,
        )
    return builder.finish(title=title, model=model, created_at=created_at)


def _read_parts(message: dict[str, Any], path: Path) -> tuple[str, str]:
    """The message's text and thinking, from its content parts or ``text``."""
    texts: list[str] = []
    thoughts: list[str] = []
    parts = optional_list(message, "content", path) or []
    for part, part_path in each_object(parts, path.key("content")):
        part_type = optional_str(part, "type", part_path)
        if part_type == "text":
            texts.append(optional_str(part, "text", part_path) or "")
        elif part_type == "thinking":
            thoughts.append(optional_str(part, "thinking", part_path) or "")
        # Tool use and tool results are not part of the text LibreChat shows.
    text = "\n\n".join(t for t in texts if t.strip())
    if not texts:
        # Older exports carry only the flat `text`.
        text = optional_str(message, "text", path) or ""
    return text, "\n\n".join(t for t in thoughts if t.strip())
