"""Indexes for every query shape the gateway issues, created idempotently.

Key patterns that LibreChat itself creates are reused as they are (same keys,
same options), so pointing the gateway at an existing LibreChat database adds
only the indexes LibreChat lacks (it has no per-user sort indexes).
"""

from __future__ import annotations

import logging

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import OperationFailure

from storage.database import Database

log = logging.getLogger(__name__)

# Server codes for "an index with these keys exists under another name or
# options": an existing LibreChat index serves the query just as well.
_INDEX_CONFLICT_CODES = {85, 86}

# Both collections: documents of imports in progress (storage/imports.py).
IMPORT_INDEXES = [
    # Only unfinished imports carry _importId: a tiny index for the final
    # unmarking and for the sweep of abandoned imports.
    IndexModel([("_importId", ASCENDING)], sparse=True),
    # LibreChat's own TTL index (same keys and options): a temporary chat, or
    # an import abandoned by a crash, is deleted once its expiredAt passes.
    IndexModel([("expiredAt", ASCENDING)], expireAfterSeconds=0),
]

CONVERSATION_INDEXES = [
    IndexModel([("conversationId", ASCENDING), ("user", ASCENDING)], unique=True),
    # List pages: one index per sort key, each ending in the tie-breakers.
    IndexModel([("user", ASCENDING), ("updatedAt", DESCENDING), ("_id", DESCENDING)]),
    IndexModel(
        [
            ("user", ASCENDING),
            ("createdAt", DESCENDING),
            ("updatedAt", DESCENDING),
            ("_id", DESCENDING),
        ]
    ),
    IndexModel(
        [("user", ASCENDING), ("title", ASCENDING), ("updatedAt", ASCENDING), ("_id", ASCENDING)]
    ),
    IndexModel(
        [
            ("user", ASCENDING),
            ("archivedAt", DESCENDING),
            ("updatedAt", DESCENDING),
            ("_id", DESCENDING),
        ]
    ),
    # Tag filters, renames and pulls.
    IndexModel([("user", ASCENDING), ("tags", ASCENDING), ("updatedAt", DESCENDING)]),
    *IMPORT_INDEXES,
]

MESSAGE_INDEXES = [
    IndexModel([("messageId", ASCENDING), ("user", ASCENDING)], unique=True),
    # A conversation's messages in tree-rebuild order (LibreChat's own index).
    IndexModel(
        [
            ("conversationId", ASCENDING),
            ("user", ASCENDING),
            ("createdAt", ASCENDING),
            ("_id", ASCENDING),
        ]
    ),
    # Message-text search is scoped to one user.
    IndexModel([("user", ASCENDING), ("conversationId", ASCENDING)]),
    *IMPORT_INDEXES,
]

TAG_INDEXES = [
    IndexModel([("tag", ASCENDING), ("user", ASCENDING)], unique=True),
    IndexModel([("user", ASCENDING), ("position", ASCENDING)]),
]


async def ensure_indexes(database: Database) -> None:
    """Create every index the gateway's queries need; safe to call at each start."""
    for collection, models in (
        (database.conversations, CONVERSATION_INDEXES),
        (database.messages, MESSAGE_INDEXES),
        (database.tags, TAG_INDEXES),
    ):
        for model in models:
            try:
                await collection.create_indexes([model])
            except OperationFailure as exc:
                if exc.code not in _INDEX_CONFLICT_CODES:
                    raise
                log.info("keeping existing index on %s: %s", collection.name, exc)
