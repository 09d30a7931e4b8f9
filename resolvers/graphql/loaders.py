"""Per-request DataLoaders: one query for all messages or tags of a page.

They are created for each request in the context factory and never shared:
a module-level cache would hand one user's data to another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from resolvers.adapters.services import Services
from resolvers.graphql.types import Message, SearchMatch, Tag, link_tree
from resolvers.operations import search_matches as match_ops
from resolvers.operations.errors import UserError
from storage import messages as message_store
from storage import tags as tag_store
from storage.database import Document


class TooManyMessages(UserError):
    """A conversation holds more messages than one response may carry."""

    code = "TOO_MANY_MESSAGES"


def too_many_messages(conversation_id: str, cap: int) -> TooManyMessages:
    return TooManyMessages(
        f"Conversation {conversation_id} has more than {cap} messages, more than one "
        f"response may carry (GRAPHQL_MAX_MESSAGES_PER_CONVERSATION); page its messages."
    )


async def _capped_messages(
    services: Services, user: str, conversation_ids: Sequence[str], cap: int
) -> dict[str, list[Document] | None]:
    """Each conversation's messages, or None for one holding more than ``cap``.

    One query reads at most ``cap`` per conversation asked, plus one: if it
    returned fewer, it read everything. If it stopped at the limit, a
    conversation over the cap caused it (it got more than ``cap``), but the
    others may be cut short, so they are read again without it. Memory stays
    within ``len(conversation_ids) * cap`` documents; an extra query happens
    only when a conversation is over the cap.
    """
    result: dict[str, list[Document] | None] = {}
    pending = list(conversation_ids)
    while pending:
        limit = len(pending) * cap + 1
        docs = await message_store.for_conversations(services.database, user, pending, limit=limit)
        grouped: dict[str, list[Document]] = {cid: [] for cid in pending}
        for doc in docs:
            bucket = grouped.get(doc.get("conversationId"))  # type: ignore[arg-type]
            if bucket is not None:
                bucket.append(doc)
        over = {cid for cid, bucket in grouped.items() if len(bucket) > cap}
        result.update(dict.fromkeys(over))
        if len(docs) < limit or not over:  # (not over: cannot happen, by counting)
            result.update((cid, grouped[cid]) for cid in pending if cid not in over)
            break
        pending = [cid for cid in pending if cid not in over]
    return result


@dataclass(frozen=True)
class Loaders:
    messages: DataLoader[str, list[Message]]
    tags: DataLoader[str, Tag | None]
    # Keyed by (conversation id, term, first): one lookup per term and count.
    search_matches: DataLoader[tuple[str, str, int], list[SearchMatch]]


def make_loaders(services: Services, user: str) -> Loaders:
    """Loaders bound to one authenticated user for one request."""

    async def load_messages(
        conversation_ids: Sequence[str],
    ) -> list[list[Message] | TooManyMessages]:
        found = await _capped_messages(
            services, user, conversation_ids, services.max_messages_per_conversation
        )
        results: list[list[Message] | TooManyMessages] = []
        for cid in conversation_ids:
            docs = found[cid]
            if docs is None:
                results.append(too_many_messages(cid, services.max_messages_per_conversation))
                continue
            messages = [Message.from_doc(doc) for doc in docs]
            link_tree(messages)
            results.append(messages)
        return results

    async def load_tags(names: Sequence[str]) -> list[Tag | None]:
        docs = await tag_store.find_many(services.database, user, names)
        by_name = {d.get("tag"): Tag.from_doc(d) for d in docs}
        return [by_name.get(name) for name in names]

    async def load_search_matches(
        keys: Sequence[tuple[str, str, int]],
    ) -> list[list[SearchMatch]]:
        asked: dict[tuple[str, int], list[str]] = {}
        for cid, text, first in keys:
            asked.setdefault((text, first), []).append(cid)
        found: dict[tuple[str, str, int], list[SearchMatch]] = {}
        for (text, first), cids in asked.items():
            matches = await match_ops.search_matches(services, user, text, cids, first)
            for cid, items in matches.items():
                found[(cid, text, first)] = [
                    SearchMatch(message_id=m.message_id, snippet=m.snippet) for m in items
                ]
        return [found[key] for key in keys]

    return Loaders(
        messages=DataLoader(load_messages),
        tags=DataLoader(load_tags),
        search_matches=DataLoader(load_search_matches),
    )
