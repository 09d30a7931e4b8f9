"""Read-only facts about a database, for ``convos-gateway doctor``.

Nothing here writes: each function runs a read command (``hello``,
``buildInfo``, ``listIndexes``, ``collStats``, a bounded ``find`` or
``aggregate``, a change stream opened and closed without waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from storage.database import Database, Document
from storage.indexes import CONVERSATION_INDEXES, MESSAGE_INDEXES, TAG_INDEXES

IndexKey = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class ServerFacts:
    version: str
    # "replica set", "sharded cluster" or "standalone".
    topology: str
    set_name: str | None


@dataclass(frozen=True)
class CollectionFacts:
    name: str
    documents: int
    # Uncompressed data size in bytes; None when the server does not say.
    data_bytes: int | None
    index_keys: list[IndexKey]


@dataclass(frozen=True)
class RequiredIndex:
    collection: str
    key: IndexKey
    unique: bool


def required_indexes(database: Database) -> list[RequiredIndex]:
    """Every index ``storage.indexes.ensure_indexes`` creates, by collection."""
    result: list[RequiredIndex] = []
    for collection, models in (
        (database.conversations, CONVERSATION_INDEXES),
        (database.messages, MESSAGE_INDEXES),
        (database.tags, TAG_INDEXES),
    ):
        result += [_required(collection.name, model) for model in models]
    return result


def _required(collection: str, model: IndexModel) -> RequiredIndex:
    spec = model.document
    return RequiredIndex(collection, tuple(spec["key"].items()), bool(spec.get("unique")))


async def server_facts(database: Database) -> ServerFacts:
    admin = database.client.admin
    hello = await admin.command("hello")
    build = await admin.command("buildInfo")
    if hello.get("msg") == "isdbgrid":
        topology = "sharded cluster"
    elif hello.get("setName"):
        topology = "replica set"
    else:
        topology = "standalone"
    return ServerFacts(str(build.get("version", "unknown")), topology, hello.get("setName"))


async def change_streams_available(database: Database) -> str | None:
    """None when a change stream opens on conversations, else the server's reason."""
    try:
        stream = await database.conversations.watch(max_await_time_ms=1)
        await stream.close()
    except OperationFailure as exc:
        return str(exc.details.get("errmsg") if exc.details else exc)
    return None


async def collection_facts(collection: AsyncCollection[Document]) -> CollectionFacts:
    documents = await collection.estimated_document_count()
    data_bytes: int | None = None
    try:
        stats = await collection.database.command("collStats", collection.name)
        data_bytes = int(stats.get("size", 0))
    except OperationFailure:
        pass  # Removed or restricted on some servers; the count still tells the cost.
    keys = [tuple(spec["key"].items()) async for spec in await collection.list_indexes()]
    return CollectionFacts(collection.name, documents, data_bytes, keys)


async def first_documents(
    collection: AsyncCollection[Document], fields: Sequence[str], limit: int
) -> list[Document]:
    """Up to ``limit`` documents in natural order, projected to ``fields``."""
    projection = dict.fromkeys(fields, 1)
    return await collection.find({}, projection, limit=limit).to_list(None)


async def duplicate_keys(
    collection: AsyncCollection[Document], fields: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Key values held by more than one document (they block a unique index)."""
    pipeline: list[dict[str, Any]] = [
        {"$group": {"_id": {f: f"${f}" for f in fields}, "n": {"$sum": 1}}},
        {"$match": {"n": {"$gt": 1}}},
        {"$limit": limit},
    ]
    cursor = await collection.aggregate(pipeline)
    return [{**row["_id"], "documents": row["n"]} async for row in cursor]
