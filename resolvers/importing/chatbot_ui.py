"""Chatbot UI (v1) exports: an object whose ``history`` lists the conversations.

The format has no timestamps: conversations are dated at the import, and
messages follow each other 1 ms apart so LibreChat keeps their order.
"""

from __future__ import annotations

from . import documents
from .chatgpt_content import sender_for_model
from .shape import (
    ROOT,
    each_object,
    expect_object,
    optional_object,
    optional_str,
    required_list,
    required_str,
    title_reader,
)

_ROLES = {"user", "assistant"}


title_of = title_reader("name")


def convert(item: object, context: documents.ImportContext) -> documents.ParsedConversation | None:
    """Documents for one ``history`` item; None when no user or assistant message has text.

    Raises:
        Problem: A field has the wrong type, ``messages`` is missing, or a
            message has no ``role``.
    """
    conversation = expect_object(item, ROOT)
    title = optional_str(conversation, "name", ROOT) or documents.DEFAULT_TITLE
    model_info = optional_object(conversation, "model", ROOT)
    model_path = ROOT.key("model")
    model_id = optional_str(model_info, "id", model_path) if model_info else None
    model_name = optional_str(model_info, "name", model_path) if model_info else None
    model = model_id or documents.DEFAULT_OPENAI_MODEL
    # Chatbot UI names the model for people ("GPT-3.5"); fall back to its id.
    assistant = model_name or sender_for_model(model_id)
    messages = required_list(conversation, "messages", ROOT)

    builder = documents.ConversationBuilder(
        context, endpoint=documents.OPENAI_ENDPOINT, start=context.now
    )
    parent_id = documents.NO_PARENT
    for message, path in each_object(messages, ROOT.key("messages")):
        role = required_str(message, "role", path)
        text = optional_str(message, "content", path) or ""
        # System prompts and other roles are not conversation turns.
        if role not in _ROLES or not text.strip():
            continue
        is_user = role == "user"
        parent_id = builder.add_message(
            parent_id=parent_id,
            created_at=None,
            sender="user" if is_user else assistant,
            text=text,
            is_created_by_user=is_user,
            model=model,
        )
    return builder.finish(title=title, model=model, created_at=context.now)
