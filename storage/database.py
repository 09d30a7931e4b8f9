"""The MongoDB connection and LibreChat's collections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

# LibreChat's collection names; the gateway works on an existing LibreChat database.
CONVERSATIONS = "conversations"
MESSAGES = "messages"
TAGS = "conversationtags"

# Batch size for finds whose whole result the caller wants at once (a page's
# messages or tags): the server then answers in one reply, up to its 16 MiB
# batch cap, instead of 101 documents and a getMore round trip for the rest.
WHOLE_RESULT = 1_000_000


@dataclass(frozen=True)
class Database:
    """One client and the three collections the gateway reads and writes."""

    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]

    @property
    def conversations(self) -> AsyncCollection[Document]:
        return self.db[CONVERSATIONS]

    @property
    def messages(self) -> AsyncCollection[Document]:
        return self.db[MESSAGES]

    @property
    def tags(self) -> AsyncCollection[Document]:
        return self.db[TAGS]

    async def close(self) -> None:
        await self.client.close()


async def find_page(
    collection: AsyncCollection[Document],
    query: Document,
    projection: Document,
    *,
    sort: Sequence[tuple[str, int]],
    limit: int,
    skip: int = 0,
) -> list[Document]:
    """One sorted page of ``limit`` documents after skipping ``skip``.

    The whole page comes in the first reply, whatever the limit: no getMore
    round trip for pages over the server's default first batch (101).
    """
    cursor = collection.find(query, projection, sort=list(sort), limit=limit, batch_size=limit)
    if skip:
        cursor = cursor.skip(skip)
    return await cursor.to_list(None)


async def aggregate_all(
    collection: AsyncCollection[Document], pipeline: list[Document]
) -> list[Document]:
    """Every document ``pipeline`` yields, in one reply (see WHOLE_RESULT)."""
    cursor = await collection.aggregate(pipeline, batchSize=WHOLE_RESULT)
    return await cursor.to_list(None)


async def update_returning(
    collection: AsyncCollection[Document], query: Document, update: Document, projection: Document
) -> Document | None:
    """Update the one document ``query`` matches and return it as it is after
    the update (``projection`` of it), or None if none matches. Never upserts.
    """
    return await collection.find_one_and_update(
        query, update, projection=projection, return_document=ReturnDocument.AFTER
    )


def connect(
    uri: str,
    *,
    default_db: str = "LibreChat",
    db_name: str | None = None,
    timeout_ms: int = 5000,
    journal: bool = True,
    **client_options: Any,
) -> Database:
    """Create the client; it connects lazily on the first command.

    Args:
        uri: a MongoDB connection string (LibreChat's ``MONGO_URI``).
        default_db: the database when the URI names none.
        db_name: overrides both (tests isolate themselves by database name).
        timeout_ms: server selection and connect timeout, so that requests
            against an unreachable server fail fast (503) instead of hanging.
        journal: acknowledge a write only once it is in the server's journal
            (write concern ``j: true``): a server killed right after the
            acknowledgement cannot lose it. The URI's own ``journal`` or
            ``w=0`` wins; ``w`` is left to the URI and the server.
        client_options: passed to ``AsyncMongoClient``, e.g. ``event_listeners``
            (the app passes its metrics' command listener: storage knows no app).
    """
    if journal and _journal_allowed(uri):
        client_options.setdefault("journal", True)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # LibreChat stores UTC dates; naive datetimes keep serialisation cheap.
        tz_aware=False,
        **client_options,
    )
    db = client[db_name] if db_name else client.get_default_database(default=default_db)
    return Database(client=client, db=db)


def _journal_allowed(uri: str) -> bool:
    """Whether ``j: true`` may be added: the URI neither sets it nor asks for w=0."""
    options = {key.lower(): value for key, value in parse_qsl(urlsplit(uri).query)}
    return "journal" not in options and options.get("w") != "0"
