"""Which conversations a search term reaches: title, a tag, or a message.

The list operation asks here for the search clause of its filter. With the
search index built and current and a term of 3+ characters, the whole match
comes from the index (storage/search_index.py): the conversations whose
folded title, tags or messages contain the term. The filter is then those
ids, read through the conversationId index, or, when most of the user's
conversations match (a common word), ``$nin`` of the few that do not. No
regex runs in the database, and no read precedes the page's.

What the index proposes is confirmed against MongoDB before it is returned:
each item of the page must match by its own title or tags (checked in
Python with the scan's rule) or by a proposed message read by ``_id`` now;
an item that does neither is dropped. A stale index therefore costs a
lookup, never a wrong hit. The total is MongoDB's count of the filter; it
can run high only while the index lags behind a delete or an edit.

Before answering, the index waits until the change feed has delivered every
write made before the request, LibreChat's included (at most one getMore
wait, 25 ms); if it cannot show that within 1 s (feed down, lagging), or the
term is short, the scan answers: a regex over the user's messages, bounded by
the request's deadline.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from resolvers.adapters.services import Services
from storage import messages as message_store
from storage.conversations import ListFilter
from storage.database import Document
from storage.search_index import (
    confirm_conversations,
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
    # Conversations the index proposed for a message: a few message ids each.
    proposals: dict[str, list[str]] = field(default_factory=dict)
    # The index chose the page: an item matching neither by its fields nor by
    # a confirmed proposal is dropped (the scan's pages need no check).
    from_index: bool = False

    async def confirmed(self, docs: Sequence[Document]) -> list[Document]:
        """``docs`` without the items MongoDB does not confirm."""
        if not self.from_index:
            return list(docs)
        text = self.filter.search
        assert text is not None
        pattern = literal_pattern(text)
        # Items not matching by their own fields need a proposed message that
        # matches now; one proposed by a stale title or tag alone has none.
        doubtful = {
            d["conversationId"]: self.proposals[d["conversationId"]]
            for d in docs
            if d.get("conversationId") in self.proposals and not _fields_match(d, pattern)
        }
        good = (
            await confirm_conversations(self.services.database, self.user, text, doubtful)
            if doubtful
            else set()
        )
        return [d for d in docs if _fields_match(d, pattern) or d.get("conversationId") in good]


async def search_scope(services: Services, user: str, flt: ListFilter) -> SearchScope:
    """Resolve ``flt``'s search clause (``flt.search`` is set)."""
    text = flt.search
    assert text is not None
    index = services.search_index
    if index is not None and searchable(normalize(text)) and await index.current():
        found = await index.proposals(user, text)
        matched = found.matched
        rest = set(found.conversations) - matched
        newest = found.newest()
        if len(rest) < len(matched) and newest is not None:
            # Most match: exclude the few that do not, among the conversations
            # the index knows (one created since is not taken for a match).
            resolved = dataclasses.replace(
                flt,
                search_conversation_ids=sorted(rest),
                search_complete=True,
                search_excluding=newest,
            )
        else:
            resolved = dataclasses.replace(
                flt, search_conversation_ids=sorted(matched), search_complete=True
            )
        return SearchScope(resolved, services, user, found.by_messages, from_index=True)
    ids = await message_store.conversation_ids_matching(services.database, user, text)
    return SearchScope(dataclasses.replace(flt, search_conversation_ids=ids), services, user)


def _fields_match(doc: Document, pattern: re.Pattern[str]) -> bool:
    """The scan's test on a conversation's own fields: title or a tag."""
    tags = doc.get("tags")
    texts = [doc.get("title"), *(tags if isinstance(tags, list) else [tags])]
    return any(isinstance(t, str) and pattern.search(t) for t in texts)
