"""An import's documents stay hidden until it completes; abandoned ones are swept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from resolvers.adapters.services import Services
from resolvers.importing.operation import (
    ImportAbandoned,
    ImportAdmission,
    ImportOptions,
    configure_imports,
    import_conversations,
    sweep_abandoned_imports,
)
from storage.database import Database
from tests.utils.imports import FIXTURES, USER, open_file


async def _hidden(database: Database, started: datetime) -> None:
    """A conversation and a message left by an import that started at ``started``."""
    import_id = ObjectId.from_datetime(started)
    await database.conversations.insert_one(
        {"conversationId": str(import_id), "user": USER, "_importId": import_id}
    )
    await database.messages.insert_one(
        {"messageId": str(import_id), "user": USER, "_importId": import_id}
    )


async def test_the_sweep_deletes_imports_older_than_the_bound_and_keeps_younger_ones(
    database: Database,
) -> None:
    services = Services(database=database)
    configure_imports(services, ImportOptions(abandon_after=timedelta(hours=1)))
    now = datetime.now(UTC)
    await _hidden(database, now - timedelta(hours=2))
    await _hidden(database, now - timedelta(minutes=5))  # may still run elsewhere

    assert await sweep_abandoned_imports(services) == (1, 1)

    young = ObjectId.from_datetime(now - timedelta(minutes=5))
    assert [d["_importId"] for d in await database.conversations.find().to_list(None)] == [young]
    assert [d["_importId"] for d in await database.messages.find().to_list(None)] == [young]


async def test_an_import_that_outlives_its_bound_is_undone_not_published(
    database: Database,
) -> None:
    services = Services(database=database)
    # Any import outlives a bound of zero: the sweep could be deleting it.
    configure_imports(services, ImportOptions(abandon_after=timedelta(0)))

    with pytest.raises(ImportAbandoned):
        await import_conversations(
            services, ImportAdmission.unmetered(USER), open_file(FIXTURES / "chatgpt.json")
        )

    assert await database.conversations.count_documents({}) == 0
    assert await database.messages.count_documents({}) == 0


async def test_a_published_import_keeps_no_marker(database: Database) -> None:
    services = Services(database=database)

    result = await import_conversations(
        services, ImportAdmission.unmetered(USER), open_file(FIXTURES / "chatgpt.json")
    )

    assert result.conversations > 0
    for collection in (database.conversations, database.messages):
        marked = {"$or": [{"_importId": {"$exists": True}}, {"expiredAt": {"$exists": True}}]}
        assert await collection.count_documents(marked) == 0
