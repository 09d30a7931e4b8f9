"""Which conversations a search term reaches through their messages.

The list operation asks here; the answer comes from the search index when it
is built and the term is long enough for it (3+ characters), else from the
scan (a regex over the user's messages, bounded by the request's deadline).
Before answering, the index waits until the change feed has delivered every
write made before the request (a fraction of a second); if the feed cannot
show that (down, lagging), the scan answers.
Either way the result is the same set: the index's proposals are confirmed
against MongoDB (storage/search_index.py).
"""

from __future__ import annotations

from resolvers.services import Services
from storage import messages as message_store
from storage.search_index import normalize, searchable


async def conversation_ids_matching(services: Services, user: str, text: str) -> list[str]:
    index = services.search_index
    if index is not None and searchable(normalize(text)) and await index.current():
        return await index.conversations_matching(services.database, user, text)
    return await message_store.conversation_ids_matching(services.database, user, text)
