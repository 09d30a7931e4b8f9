"""Which conversations a search term reaches: title, a tag, or a message.

The list operation asks here for the search clause of its filter. With the
search index built and a term of 3+ characters, the match is computed
from the index's proposals (storage/search_index.py): a few proposed
conversations are passed as ids beside the title/tags regex, as the scan
passes its ids; many (a common word) and the match is computed whole from the
user's titles and tags (one read of the user's conversations, matched with
the scan's rule) and the filter is ``$in`` of the matches, or ``$nin`` of the
rest when most conversations match. Either way no regex runs over messages.

Proposals are confirmed against MongoDB before they are returned: the items of
the page are checked (their proposed messages read by ``_id``) and an item
that fails is dropped, so a stale index costs a lookup, never a wrong hit.
The total counts proposals; it can exceed the true count only while the index
lags behind a delete or an edit.

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
        text = self.filter.search
        assert text is not None
        pattern = literal_pattern(text)
        doubtful = {
            d["conversationId"]: self.proposals[d["conversationId"]]
            for d in docs
            if d.get("conversationId") in self.proposals and not _fields_match(d, pattern)
        }
        if not doubtful:
            return list(docs)
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
    if index is not None and searchable(normalize(text)) and await index.current():
        proposals = await index.candidate_conversations(user, text)
        if len(proposals) <= FEW_PROPOSALS:
            # Few: the filter keeps its title/tags regex, with these ids for messages.
            ids = sorted(proposals)
            return SearchScope(
                dataclasses.replace(flt, search_conversation_ids=ids), services, user, proposals
            )
        conversations = await conversation_fields(services.database, user)
        return _complete(services, user, flt, text, conversations, proposals)
    ids = await message_store.conversation_ids_matching(services.database, user, text)
    return SearchScope(dataclasses.replace(flt, search_conversation_ids=ids), services, user)


# Up to this many proposed conversations are passed as ids beside the title
# and tags regex; more, and the match is computed whole (see _complete).
FEW_PROPOSALS = 500


def _fields_match(doc: Document, pattern: re.Pattern[str]) -> bool:
    """The scan's test on a conversation's own fields: title or a tag."""
    tags = doc.get("tags")
    texts = [doc.get("title"), *(tags if isinstance(tags, list) else [tags])]
    return any(isinstance(t, str) and pattern.search(t) for t in texts)


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
        if _fields_match(doc, pattern):
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
