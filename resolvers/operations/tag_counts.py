"""Tag counts, recomputed from the conversations after every change.

Never +1/-1 guesses: a count always equals the number of the user's
conversations carrying the tag (LibreChat's increments drift and go
negative, its issue #9736). Callers hold the user's lock (``services.locks``)
or run inside an operation that does.
"""

from __future__ import annotations

from collections.abc import Iterable

from resolvers.adapters.services import Services
from resolvers.operations.clock import utcnow
from storage import conversations as conversation_store
from storage import tags as tag_store


async def recount(services: Services, user: str, names: Iterable[str]) -> None:
    """Set the named tags' counts to the number of conversations carrying them."""
    unique = list(dict.fromkeys(names))
    if unique:
        counts = await conversation_store.tag_counts(services.database, user, unique)
        await tag_store.set_counts(services.database, user, counts, utcnow())
