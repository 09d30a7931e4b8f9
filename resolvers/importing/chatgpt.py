"""ChatGPT exports: one array item (with a ``mapping`` of nodes) per conversation.

A ChatGPT conversation is a tree: each node names its ``parent`` and lists its
``children``; an edited user message is a second child of the same parent.
Nodes that show nothing (null message, system prompt, hidden context, empty
text) are dropped and their children re-parented to the nearest kept
ancestor, so every branch survives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import documents
from .chatgpt_content import inline_citations, render_content, sender_for_model
from .shape import (
    ROOT,
    Path,
    Problem,
    expect_object,
    optional_bool,
    optional_list,
    optional_object,
    optional_str,
    required_object,
    required_str,
    title_reader,
)
from .timestamps import optional_epoch_seconds


@dataclass(slots=True)
class _Kept:
    """What a shown message contributes (None for a dropped node)."""

    text: str
    is_user: bool
    slug: str | None
    created_at: datetime | None


@dataclass(slots=True)
class _Node:
    parent: str | None
    # The node's own ordering of its children, to keep branches in order.
    order: list[Any] | None
    kept: _Kept | None


title_of = title_reader("title")


def convert(item: object, context: documents.ImportContext) -> documents.ParsedConversation | None:
    """Documents for one item of the top-level array; None when no node shows anything.

    Raises:
        Problem: A field has the wrong type, ``mapping`` is missing, a message
            has no ``author.role``, or ``parent`` links form a cycle.
    """
    conversation = expect_object(item, ROOT)
    title = optional_str(conversation, "title", ROOT) or documents.DEFAULT_TITLE
    created_at = optional_epoch_seconds(conversation, "create_time", ROOT)
    default_slug = optional_str(conversation, "default_model_slug", ROOT)
    mapping = required_object(conversation, "mapping", ROOT)
    mapping_path = ROOT.key("mapping")

    nodes = {key: _read_node(raw, mapping_path.key(key)) for key, raw in mapping.items()}
    if created_at is None:
        times = [n.kept.created_at for n in nodes.values() if n.kept and n.kept.created_at]
        created_at = min(times, default=None)

    # `parent` is the source of truth (one parent per node, so a forest); a
    # parent that is not in the mapping makes the node a root.
    children: dict[str | None, list[str]] = {}
    for key, node in nodes.items():
        parent = node.parent if node.parent in nodes else None
        children.setdefault(parent, []).append(key)
    for parent_key, siblings in children.items():
        order = nodes[parent_key].order if parent_key is not None else None
        if order and len(siblings) > 1:
            _sort_as_listed(siblings, order)

    # The model the conversation was last answered with; messages without
    # metadata (issue #15229) fall back to it.
    answered = [n.kept.slug for n in nodes.values() if n.kept and not n.kept.is_user]
    model = default_slug or next(
        (slug for slug in reversed(answered) if slug), documents.DEFAULT_OPENAI_MODEL
    )

    builder = documents.ConversationBuilder(
        context, endpoint=documents.OPENAI_ENDPOINT, start=created_at
    )
    visited: set[str] = set()
    # Depth-first with an explicit stack: a reply chain can be thousands deep.
    stack: list[tuple[str, str]] = [
        (key, documents.NO_PARENT) for key in reversed(children.get(None, []))
    ]
    while stack:
        key, parent_id = stack.pop()
        visited.add(key)
        kept = nodes[key].kept
        if kept is not None:
            parent_id = builder.add_message(
                parent_id=parent_id,
                created_at=kept.created_at,
                sender="user" if kept.is_user else sender_for_model(kept.slug or default_slug),
                text=kept.text,
                is_created_by_user=kept.is_user,
                model=kept.slug or model,
            )
        stack.extend((child, parent_id) for child in reversed(children.get(key, [])))
    if len(visited) != len(nodes):
        stuck = next(key for key in nodes if key not in visited)
        raise Problem(mapping_path.key(stuck).key("parent"), "forms a cycle")

    return builder.finish(title=title, model=model, created_at=created_at)


def _sort_as_listed(siblings: list[str], order: list[Any]) -> None:
    """Sort ``siblings`` as their parent's ``children`` lists them, unlisted last."""
    rank = {child: i for i, child in enumerate(order) if isinstance(child, str)}
    siblings.sort(key=lambda child: rank.get(child, len(rank)))


def _read_node(raw: object, path: Path) -> _Node:
    node = expect_object(raw, path)
    parent = optional_str(node, "parent", path)
    order = optional_list(node, "children", path)
    message_path = path.key("message")
    message = optional_object(node, "message", path)
    kept = _read_message(message, message_path) if message is not None else None
    return _Node(parent=parent, order=order, kept=kept)


def _read_message(message: dict[str, Any], path: Path) -> _Kept | None:
    author = required_object(message, "author", path)
    role = required_str(author, "role", path.key("author"))
    # Issues #13630 and #15229: newer exports have messages without metadata.
    metadata = optional_object(message, "metadata", path)
    meta_path = path.key("metadata")
    if metadata is not None and optional_bool(
        metadata, "is_visually_hidden_from_conversation", meta_path
    ):
        return None
    if role == "system":
        return None
    created_at = optional_epoch_seconds(message, "create_time", path)
    content = optional_object(message, "content", path)
    text = render_content(content, path.key("content")) if content is not None else ""
    if not text.strip():
        return None
    if role == "assistant":
        text = inline_citations(text, metadata)
    slug = optional_str(metadata, "model_slug", meta_path) if metadata is not None else None
    return _Kept(text=text, is_user=role == "user", slug=slug, created_at=created_at)
