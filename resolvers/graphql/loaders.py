"""Per-request DataLoaders: one query for all messages or tags of a page.

They are created for each request in the context factory and never shared:
a module-level cache would hand one user's data to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from resolvers.adapters.services import Services
from resolvers.graphql.types import Message, Tag
from storage import messages as message_store
from storage import tags as tag_store


def _link_tree(messages: list[Message]) -> None:
    """Fill each message's ``children`` from the others' ``parentMessageId``."""
    by_id = {m.message_id: m for m in messages}
    for message in messages:
        parent = by_id.get(message.parent_message_id or "")
        if parent is not None and parent is not message:
            parent.children.append(message)


@dataclass(frozen=True)
class Loaders:
    messages: DataLoader[str, list[Message]]
    tags: DataLoader[str, Tag | None]


def make_loaders(services: Services, user: str) -> Loaders:
    """Loaders bound to one authenticated user for one request."""

    async def load_messages(conversation_ids: Sequence[str]) -> list[list[Message]]:
        docs = await message_store.for_conversations(services.database, user, conversation_ids)
        grouped: dict[str, list[Message]] = {cid: [] for cid in conversation_ids}
        for doc in docs:
            bucket = grouped.get(doc.get("conversationId"))  # type: ignore[arg-type]
            if bucket is not None:
                bucket.append(Message.from_doc(doc))
        for bucket in grouped.values():
            _link_tree(bucket)
        return [grouped[cid] for cid in conversation_ids]

    async def load_tags(names: Sequence[str]) -> list[Tag | None]:
        docs = await tag_store.find_many(services.database, user, names)
        by_name = {d.get("tag"): Tag.from_doc(d) for d in docs}
        return [by_name.get(name) for name in names]

    return Loaders(messages=DataLoader(load_messages), tags=DataLoader(load_tags))
