"""Which conversations a search term reaches: title, a tag, or a message.

The list operation asks here for the search clause of its filter. With the
search index built and a term of 3+ characters, the match is computed
upfront: the user's titles and tags (one read of the user's conversations,
matched with the scan's rule), plus the conversations whose messages the index
proposes (storage/search_index.py). The page and count then filter by ``$in``
of those, or ``$nin`` of the rest when most conversations match, instead of a
regex over every message.

Proposals are confirmed against MongoDB before they are returned: the items of
the page are checked (their proposed messages read by ``_id``) and an item
that fails is dropped, so a stale index costs a lookup, never a wrong hit.
The total counts proposals; it can exceed the true count only while the index
lags behind a delete or an edit.

Before answering, the index waits (while the conversations are read) until
the change feed has delivered every write made before the request,
LibreChat's included; if it cannot show that within 1 s (feed down, lagging),
or the term is short, the scan answers: a regex over the user's messages,
bounded by the request's deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from resolvers.services import Services
from storage import messages as message_store
from storage.conversations import ListFilter
from storage.database import Document
from storage.search_index import (
    confirm_conversations,
    conversation_fields,
    literal_pattern,
    normalize,
    searchable,
)


@dataclass
class SearchScope:
    """A resolved search: the filter to list with, and how to confirm a page."""

    filter: ListFilter
    services: Services
    user: str
    # Conversations proposed by the index alone (not by title or tags).
    proposals: dict[str, list[str]] = field(default_factory=dict)

    async def confirmed(self, docs: Sequence[Document]) -> list[Document]:
        """``docs`` without the items MongoDB does not confirm."""
        doubtful = {
            d["conversationId"]: self.proposals[d["conversationId"]]
            for d in docs
            if d.get("conversationId") in self.proposals
        }
        if not doubtful:
            return list(docs)
        text = self.filter.search
        assert text is not None
        good = await confirm_conversations(self.services.database, self.user, text, doubtful)
        return [
            d
            for d in docs
            if d.get("conversationId") not in doubtful or d["conversationId"] in good
        ]


async def search_scope(services: Services, user: str, flt: ListFilter) -> SearchScope:
    """Resolve ``flt``'s search clause (``flt.search`` is set)."""
    text = flt.search
    assert text is not None
    index = services.search_index
    if index is not None and searchable(normalize(text)) and index.ready:
        current = asyncio.ensure_future(index.current())
        conversations = await conversation_fields(services.database, user)
        if await current:
            proposals = await index.candidate_conversations(user, text)
            return _complete(services, user, flt, text, conversations, proposals)
    ids = await message_store.conversation_ids_matching(services.database, user, text)
    return SearchScope(dataclasses.replace(flt, search_conversation_ids=ids), services, user)


def _complete(
    services: Services,
    user: str,
    flt: ListFilter,
    text: str,
    conversations: list[Document],
    proposals: dict[str, list[str]],
) -> SearchScope:
    pattern = literal_pattern(text)
    everyone: set[str] = set()
    by_fields: set[str] = set()
    newest = None
    for doc in conversations:
        cid = doc.get("conversationId")
        if not isinstance(cid, str):
            continue
        everyone.add(cid)
        oid = doc.get("_id")
        if newest is None or (oid is not None and oid > newest):
            newest = oid
        title, tags = doc.get("title"), doc.get("tags")
        texts = [title, *(tags if isinstance(tags, list) else [tags])]
        if any(isinstance(t, str) and pattern.search(t) for t in texts):
            by_fields.add(cid)
    only_proposed = {c: m for c, m in proposals.items() if c in everyone and c not in by_fields}
    matched = by_fields | set(only_proposed)
    rest = everyone - matched
    if len(matched) <= len(rest) or newest is None:
        resolved = dataclasses.replace(
            flt, search_conversation_ids=sorted(matched), search_complete=True
        )
    else:
        # Most match: exclude the few that do not, among the conversations
        # read (one created meanwhile is not taken for a match).
        resolved = dataclasses.replace(
            flt, search_conversation_ids=sorted(rest), search_complete=True, search_excluding=newest
        )
    return SearchScope(resolved, services, user, only_proposed)
