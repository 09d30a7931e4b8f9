"""What the built-in sample needs from the database: is a user empty, was the
sample loaded for them, and wiping their tags for a reset.

The "loaded" marks live in a collection of the gateway's own. The sample is
only ever loaded into the embedded database (never into a LibreChat
MongoDB), so this collection never appears in LibreChat's data.
"""

from __future__ import annotations

from datetime import datetime

from storage.database import Database

# One document per user the sample was loaded for: {_id: user, loadedAt}.
SAMPLE_MARKS = "convos_gateway_samples"


async def has_any_data(database: Database, user: str) -> bool:
    """Whether the user has a conversation, a message or a tag (archived ones count)."""
    for collection in (database.conversations, database.messages, database.tags):
        if await collection.find_one({"user": user}, {"_id": 1}) is not None:
            return True
    return False


async def was_loaded(database: Database, user: str) -> bool:
    return await database.db[SAMPLE_MARKS].find_one({"_id": user}, {"_id": 1}) is not None


async def mark_loaded(database: Database, user: str, now: datetime) -> None:
    await database.db[SAMPLE_MARKS].update_one(
        {"_id": user}, {"$set": {"loadedAt": now}}, upsert=True
    )


async def delete_tags(database: Database, user: str) -> int:
    """Delete every tag document of the user; the caller holds the user's tag lock."""
    result = await database.tags.delete_many({"user": user})
    return result.deleted_count
