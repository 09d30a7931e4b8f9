"""LibreChat's own exports: one conversation per file, as a tree or a flat list.

"Export → JSON" writes ``messagesTree`` (each message with its ``children``)
when the export is recursive, else a flat ``messages`` list linked by
``parentMessageId``. Either way every message gets a new id and its parent is
remapped; the conversation's preset (model, temperature, ...) and tags are
kept from ``options``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import documents
from .shape import (
    ROOT,
    Path,
    Problem,
    each_object,
    expect_object,
    optional_bool,
    optional_list,
    optional_object,
    optional_str,
)
from .timestamps import optional_js_date

# Preset fields of LibreChat's conversation schema kept from an export. An
# allow-list, because the export is user-supplied: identity and ownership
# (`conversationId`, `user`, `_id`), state (`isArchived`, `messages`,
# `expiredAt`) and references to files of the other instance (`files`,
# `file_ids`) must not come from it.
PRESET_FIELDS = frozenset(
    {
        "endpointType", "model", "region", "chatGptLabel", "examples", "modelLabel",
        "promptPrefix", "temperature", "top_p", "topP", "topK", "maxOutputTokens",
        "maxTokens", "presence_penalty", "frequency_penalty", "resendImages",
        "promptCache", "promptCacheTtl", "thinking", "thinkingBudget", "thinkingLevel",
        "effort", "system", "resendFiles", "imageDetail", "agent_id", "assistant_id",
        "instructions", "stop", "iconURL", "greeting", "spec", "tools",
        "maxContextTokens", "max_tokens", "useResponsesApi", "web_search",
        "disableStreaming", "fileTokenLimit", "reasoning_effort", "reasoning_summary",
        "verbosity", "agentOptions",
    }
)  # fmt: skip
# Message fields kept when they have the type LibreChat gives them; anything
# else in an exported message (files, attachments of the other instance,
# internal ids) is left out.
_MESSAGE_EXTRAS: dict[str, type | tuple[type, ...]] = {
    "tokenCount": (int, float),
    "feedback": dict,
    "finish_reason": str,
    "iconURL": str,
}
# The contract's bound on a tag name.
MAX_TAG_LENGTH = 256


def title_of(item: object) -> str | None:
    """The conversation's title for error messages, when it has one."""
    if not isinstance(item, dict):
        return None
    title = item.get("title")
    options = item.get("options")
    if not isinstance(title, str) and isinstance(options, dict):
        title = options.get("title")
    return title if isinstance(title, str) else None


def convert(item: object, context: documents.ImportContext) -> documents.ParsedConversation | None:
    """Documents for the export's root object; None when no message has text or content.

    Raises:
        Problem: A field has the wrong type, a tag is too long, a flat
            ``messages`` list repeats a ``messageId`` or links in a cycle.
    """
    root = expect_object(item, ROOT)
    options = optional_object(root, "options", ROOT) or {}
    options_path = ROOT.key("options")
    preset = {key: value for key, value in options.items() if key in PRESET_FIELDS}
    preset.update((key, value) for key, value in root.items() if key in PRESET_FIELDS)
    endpoint = (
        optional_str(root, "endpoint", ROOT)
        or optional_str(options, "endpoint", options_path)
        or documents.OPENAI_ENDPOINT
    )
    model = preset.get("model")
    if model is not None and not isinstance(model, str):
        where = ROOT if "model" in root else options_path
        raise Problem(where.key("model"), "must be a string")
    title = (
        optional_str(root, "title", ROOT)
        or optional_str(options, "title", options_path)
        or documents.DEFAULT_TITLE
    )
    tags = _read_tags(root, ROOT) + _read_tags(options, options_path)
    default_model = model or (
        documents.DEFAULT_ANTHROPIC_MODEL
        if endpoint == documents.ANTHROPIC_ENDPOINT
        else documents.DEFAULT_OPENAI_MODEL
    )

    builder = documents.ConversationBuilder(context, endpoint=endpoint)
    tree = optional_list(root, "messagesTree", ROOT)
    if tree is not None:
        pairs = _walk_tree(tree, ROOT.key("messagesTree"))
    else:
        flat = optional_list(root, "messages", ROOT) or []
        pairs = _walk_flat(flat, ROOT.key("messages"))
    # Old parent key -> new id; keys are positions in the walk, not the
    # export's ids, which a tree need not keep unique.
    new_ids: dict[int, str] = {}
    for position, (message, parent, path) in enumerate(pairs):
        parent_id = new_ids.get(parent, documents.NO_PARENT)
        new_ids[position] = _add(builder, message, parent_id, path, default_model)

    return builder.finish(
        title=title,
        model=default_model,
        created_at=None,
        tags=list(dict.fromkeys(tags)),
        extra=preset,
    )


# A message with the walk position of its parent (-1 for a root) and its path.
_Walked = tuple[dict[str, Any], int, Path]


def _walk_tree(tree: list[Any], path: Path) -> Iterator[_Walked]:
    """The tree's messages depth-first, each after its parent.

    A message with neither text nor content is skipped with its subtree, as
    LibreChat's import does: nothing under it was shown.
    """
    stack: list[tuple[Any, int, Path]] = [
        (node, -1, path.index(i)) for i, node in reversed(list(enumerate(tree)))
    ]
    position = 0
    while stack:
        raw, parent, node_path = stack.pop()
        message = expect_object(raw, node_path)
        text = optional_str(message, "text", node_path)
        content = optional_list(message, "content", node_path)
        if not text and not content:
            continue
        yield message, parent, node_path
        children = optional_list(message, "children", node_path) or []
        children_path = node_path.key("children")
        stack.extend(
            (child, position, children_path.index(i))
            for i, child in reversed(list(enumerate(children)))
        )
        position += 1


def _walk_flat(messages: list[Any], path: Path) -> Iterator[_Walked]:
    """The flat list's messages, each after its parent.

    A message whose parent is not in the list becomes a root (an export of a
    branch cut from a longer conversation); ids must be unique and links
    acyclic, or the tree cannot be rebuilt.
    """
    index_of: dict[str, int] = {}
    objects: list[dict[str, Any]] = []
    for i, (message, message_path) in enumerate(each_object(messages, path)):
        objects.append(message)
        message_id = optional_str(message, "messageId", message_path)
        if message_id is None:
            continue
        if message_id in index_of:
            raise Problem(message_path.key("messageId"), "repeats another message's id")
        index_of[message_id] = i
    children: dict[int, list[int]] = {}
    for i, message in enumerate(objects):
        parent = optional_str(message, "parentMessageId", path.index(i))
        parent_index = index_of.get(parent, -1) if parent and parent != documents.NO_PARENT else -1
        children.setdefault(parent_index, []).append(i)

    emitted: set[int] = set()
    position_of: dict[int, int] = {}
    stack = [(i, -1) for i in reversed(children.get(-1, []))]
    while stack:
        i, parent_index = stack.pop()
        position_of[i] = len(position_of)
        emitted.add(i)
        parent_position = position_of[parent_index] if parent_index >= 0 else -1
        yield objects[i], parent_position, path.index(i)
        stack.extend((child, i) for child in reversed(children.get(i, [])))
    if len(emitted) != len(objects):
        stuck = next(i for i in range(len(objects)) if i not in emitted)
        raise Problem(path.index(stuck).key("parentMessageId"), "forms a cycle")


def _add(
    builder: documents.ConversationBuilder,
    message: dict[str, Any],
    parent_id: str,
    path: Path,
    default_model: str,
) -> str:
    text = optional_str(message, "text", path) or ""
    content = optional_list(message, "content", path)
    sender = optional_str(message, "sender", path)
    is_user = optional_bool(message, "isCreatedByUser", path)
    if is_user is None:
        is_user = (sender or "").lower() == "user"
    extra = {
        key: message[key]
        for key, kind in _MESSAGE_EXTRAS.items()
        if isinstance(message.get(key), kind) and not isinstance(message.get(key), bool)
    }
    return builder.add_message(
        parent_id=parent_id,
        created_at=optional_js_date(message, "createdAt", path),
        sender=sender or ("User" if is_user else "Assistant"),
        text=text,
        is_created_by_user=is_user,
        model=optional_str(message, "model", path) or default_model,
        endpoint=optional_str(message, "endpoint", path),
        content=content or None,
        extra=extra,
    )


def _read_tags(obj: dict[str, Any], path: Path) -> list[str]:
    raw = optional_list(obj, "tags", path)
    tags: list[str] = []
    for i, tag in enumerate(raw or []):
        if not isinstance(tag, str):
            raise Problem(path.key("tags").index(i), "must be a string")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise Problem(path.key("tags").index(i), f"must be at most {MAX_TAG_LENGTH} characters")
        if tag:
            tags.append(tag)
    return tags
