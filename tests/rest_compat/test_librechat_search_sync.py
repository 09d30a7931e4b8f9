"""Documents the gateway writes are picked up by LibreChat's own search sync.

LibreChat re-indexes into Meilisearch what ``{expiredAt: null, _meiliIndex:
false}`` finds (issue 10, item 5): every conversation and message created by
import, fork and duplicate, and every rename or tag change, must match it.
"""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings
from storage.database import Database, Document
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, insert_thread
from tests.utils.imports import FIXTURES

# LibreChat's sync query (mongoMeili's indexable documents not yet in Meilisearch).
SYNC_QUERY: Document = {"expiredAt": None, "_meiliIndex": False}
INDEXED = {"_meiliIndex": True}


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri, fork_user_max=10_000, fork_ip_max=10_000)


async def _indexed_source(database: Database) -> tuple[Document, list[Document]]:
    """A conversation LibreChat has already put into Meilisearch."""
    conversation = await insert_conversation(database, ALICE, title="Trip", _meiliIndex=True)
    cid = conversation["conversationId"]
    messages = await insert_thread(database, ALICE, cid, ["plan a trip", "to Lisbon"])
    await database.messages.update_many({"conversationId": cid}, {"$set": INDEXED})
    return conversation, messages


async def _to_sync(database: Database, conversation_id: str) -> tuple[Document | None, int]:
    """The conversation as the sync query sees it, and how many of its messages it finds."""
    conversation = await database.conversations.find_one(
        {**SYNC_QUERY, "conversationId": conversation_id}
    )
    messages = await database.messages.count_documents(
        {**SYNC_QUERY, "conversationId": conversation_id}
    )
    return conversation, messages


async def test_forked_and_duplicated_conversations_are_queued_for_librechat_search(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, messages = await _indexed_source(database)
    cid = source["conversationId"]
    fork = await client.post(
        "/api/convos/fork",
        json={"conversationId": cid, "messageId": messages[-1]["messageId"]},
        headers=auth(ALICE),
    )
    duplicate = await client.post(
        "/api/convos/duplicate", json={"conversationId": cid}, headers=auth(ALICE)
    )
    assert fork.status_code == 200 and duplicate.status_code == 201
    for response in (fork, duplicate):
        new_id = response.json()["conversation"]["conversationId"]
        stored, n_messages = await _to_sync(database, new_id)
        assert stored is not None and stored["__v"] == 0
        assert n_messages == 2
        # The client never sees the internal fields.
        assert "_meiliIndex" not in response.json()["conversation"]
    # The source is untouched: still indexed.
    assert await _to_sync(database, cid) == (None, 0)


async def test_imported_conversations_are_queued_for_librechat_search(
    client: httpx.AsyncClient, database: Database
) -> None:
    data = (FIXTURES / "librechat_tree.json").read_bytes()
    response = await client.post(
        "/api/convos/import",
        files={"file": ("export.json", data, "application/json")},
        headers=auth(ALICE),
    )
    assert response.status_code == 201, response.text
    stored = await database.conversations.find(SYNC_QUERY).to_list(None)
    assert stored and all(c["__v"] == 0 for c in stored)
    n_messages = await database.messages.count_documents({})
    assert n_messages > 0
    assert await database.messages.count_documents(SYNC_QUERY) == n_messages
    assert await database.conversations.count_documents({}) == len(stored)


async def test_rename_and_tagging_queue_the_conversation_again(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, _ = await _indexed_source(database)
    cid = source["conversationId"]
    renamed = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": cid, "title": "Lisbon"}},
        headers=auth(ALICE),
    )
    assert renamed.status_code == 201
    stored, _ = await _to_sync(database, cid)
    assert stored is not None and stored["title"] == "Lisbon"

    await database.conversations.update_one({"conversationId": cid}, {"$set": INDEXED})
    tagged = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": ["travel"]}, headers=auth(ALICE)
    )
    assert tagged.status_code == 200
    stored, _ = await _to_sync(database, cid)
    assert stored is not None and stored["tags"] == ["travel"]


async def test_archiving_leaves_librechat_search_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, _ = await _indexed_source(database)
    cid = source["conversationId"]
    response = await client.post(
        "/api/convos/archive",
        json={"arg": {"conversationId": cid, "isArchived": True}},
        headers=auth(ALICE),
    )
    assert response.status_code == 200
    assert await _to_sync(database, cid) == (None, 0)


async def test_bulk_tag_changes_queue_exactly_the_changed_conversations_for_librechat_search(
    client: httpx.AsyncClient, database: Database
) -> None:
    tagged, _ = await _indexed_source(database)
    untouched = await insert_conversation(database, ALICE, title="Other", _meiliIndex=True)
    ids = [tagged["conversationId"]]
    added = await client.post(
        "/api/convos/bulk",
        json={"ids": ids, "action": "addTag", "tag": "work"},
        headers=auth(ALICE),
    )
    assert added.status_code == 200
    assert (await _to_sync(database, tagged["conversationId"]))[0] is not None
    assert (await _to_sync(database, untouched["conversationId"]))[0] is None

    await database.conversations.update_many({}, {"$set": INDEXED})  # LibreChat synced
    removed = await client.post(
        "/api/convos/bulk",
        json={"ids": ids, "action": "removeTag", "tag": "work"},
        headers=auth(ALICE),
    )
    assert removed.status_code == 200
    assert (await _to_sync(database, tagged["conversationId"]))[0] is not None
    assert (await _to_sync(database, untouched["conversationId"]))[0] is None
