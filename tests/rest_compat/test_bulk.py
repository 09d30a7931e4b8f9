"""POST /api/convos/bulk and the bulkUpdateConversations mutation, over real HTTP.

Each action changes exactly the selected conversations, tag counts stay the
true counts, a batch publishes one event, and a refused selection (another
user's id, an unknown id, bad input) leaves every document as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from resolvers.operations.events import ConversationEvent
from storage.database import Database, Document
from tests.utils.factories import (
    ALICE,
    BOB,
    auth,
    fingerprint,
    insert_conversation,
    insert_thread,
)
from tests.utils.http import error_codes, gql
from tests.utils.invariants import check_invariants


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[ConversationEvent] = []

    async def publish(self, event: ConversationEvent) -> None:
        self.events.append(event)


@pytest.fixture
def events(app: Starlette) -> RecordingEvents:
    recorder = RecordingEvents()
    app.state.services.events = recorder
    return recorder


async def _seed(client: httpx.AsyncClient, database: Database) -> list[str]:
    """Three conversations of Alice with messages, the first two tagged "work"."""
    ids = []
    for i in range(3):
        doc = await insert_conversation(database, ALICE, title=f"chat {i}")
        ids.append(doc["conversationId"])
        await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    for cid in ids[:2]:
        r = await client.put(f"/api/tags/convo/{cid}", json={"tags": ["work"]}, headers=auth(ALICE))
        assert r.status_code == 200
    return ids


async def _bulk(client: httpx.AsyncClient, user: str, **body: Any) -> httpx.Response:
    return await client.post("/api/convos/bulk", json=body, headers=auth(user))


async def _conversation(database: Database, cid: str) -> Document:
    doc = await database.conversations.find_one({"conversationId": cid})
    assert doc is not None
    return doc


async def test_bulk_archive_by_ids_archives_exactly_those_and_keeps_updated_at(
    client: httpx.AsyncClient, database: Database, events: RecordingEvents
) -> None:
    ids = await _seed(client, database)
    updated = {cid: (await _conversation(database, cid))["updatedAt"] for cid in ids}
    events.events.clear()
    r = await _bulk(client, ALICE, ids=ids[:2], action="archive")
    assert r.status_code == 200
    assert r.json() == {
        "action": "archive",
        "dryRun": False,
        "matchedCount": 2,
        "modifiedCount": 2,
        "deletedMessageCount": 0,
    }
    for cid in ids[:2]:
        doc = await _conversation(database, cid)
        assert doc["isArchived"] is True and doc["archivedAt"] is not None
        assert doc["updatedAt"] == updated[cid]
    assert (await _conversation(database, ids[2]))["isArchived"] is False
    # One event for the batch, naming both conversations.
    assert [(e.kind, set(e.conversation_ids)) for e in events.events] == [("updated", set(ids[:2]))]


async def test_bulk_unarchive_by_filter_selects_what_the_archived_list_shows(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    assert (await _bulk(client, ALICE, ids=ids, action="archive")).status_code == 200
    r = await _bulk(
        client, ALICE, filter={"isArchived": True, "tags": ["work"]}, action="unarchive"
    )
    assert r.json()["matchedCount"] == 2
    archived = {cid: (await _conversation(database, cid))["isArchived"] for cid in ids}
    assert archived == {ids[0]: False, ids[1]: False, ids[2]: True}


async def test_bulk_archive_leaves_an_archived_conversations_archived_at_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    await _bulk(client, ALICE, ids=ids[:1], action="archive")
    before = (await _conversation(database, ids[0]))["archivedAt"]
    r = await _bulk(client, ALICE, ids=ids[:2], action="archive")
    assert (r.json()["matchedCount"], r.json()["modifiedCount"]) == (2, 1)
    assert (await _conversation(database, ids[0]))["archivedAt"] == before


async def test_bulk_pin_and_unpin_by_ids(client: httpx.AsyncClient, database: Database) -> None:
    ids = await _seed(client, database)
    r = await _bulk(client, ALICE, ids=ids, action="pin")
    assert r.json()["modifiedCount"] == 3
    assert [(await _conversation(database, cid))["pinned"] for cid in ids] == [True] * 3
    r = await _bulk(client, ALICE, filter={"pinned": True, "search": "chat 1"}, action="unpin")
    assert r.json()["modifiedCount"] == 1
    pins = [(await _conversation(database, cid))["pinned"] for cid in ids]
    assert pins == [True, False, True]


async def test_bulk_add_tag_creates_the_tag_and_counts_exactly(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    r = await _bulk(client, ALICE, filter={}, action="addTag", tag="later")
    assert (r.json()["matchedCount"], r.json()["modifiedCount"]) == (3, 3)
    tag = await database.tags.find_one({"user": ALICE, "tag": "later"})
    assert tag is not None and tag["count"] == 3
    r = await _bulk(client, ALICE, ids=ids, action="addTag", tag="work")
    assert r.json()["modifiedCount"] == 1
    assert (await database.tags.find_one({"user": ALICE, "tag": "work"}) or {})["count"] == 3
    await check_invariants(database, ALICE)


async def test_bulk_remove_tag_lowers_the_count_to_the_truth(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    r = await _bulk(client, ALICE, ids=[ids[0], ids[2]], action="removeTag", tag="work")
    assert (r.json()["matchedCount"], r.json()["modifiedCount"]) == (2, 1)
    assert (await _conversation(database, ids[0]))["tags"] == []
    assert (await database.tags.find_one({"user": ALICE, "tag": "work"}) or {})["count"] == 1
    await check_invariants(database, ALICE)


async def test_bulk_delete_removes_conversations_messages_and_recounts_tags(
    client: httpx.AsyncClient, database: Database, events: RecordingEvents
) -> None:
    ids = await _seed(client, database)
    events.events.clear()
    r = await _bulk(client, ALICE, filter={"tags": ["work"]}, action="delete")
    assert r.json() == {
        "action": "delete",
        "dryRun": False,
        "matchedCount": 2,
        "modifiedCount": 2,
        "deletedMessageCount": 4,
    }
    left = await database.conversations.distinct("conversationId", {"user": ALICE})
    assert left == [ids[2]]
    assert await database.messages.count_documents({"conversationId": {"$in": ids[:2]}}) == 0
    assert (await database.tags.find_one({"user": ALICE, "tag": "work"}) or {})["count"] == 0
    assert [(e.kind, set(e.conversation_ids)) for e in events.events] == [("deleted", set(ids[:2]))]
    await check_invariants(database, ALICE)


@pytest.mark.parametrize("action", ["archive", "pin", "addTag", "delete"])
async def test_bulk_dry_run_counts_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, events: RecordingEvents, action: str
) -> None:
    ids = await _seed(client, database)
    before = await fingerprint(database)
    events.events.clear()
    extra = {"tag": "new"} if action == "addTag" else {}
    r = await _bulk(client, ALICE, ids=ids, action=action, dryRun=True, **extra)
    assert r.status_code == 200
    assert (r.json()["dryRun"], r.json()["matchedCount"], r.json()["modifiedCount"]) == (
        True,
        3,
        3,
    )
    assert await fingerprint(database) == before
    assert events.events == []


@pytest.mark.parametrize("action", ["archive", "delete", "addTag"])
async def test_bulk_with_another_users_id_is_403_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, action: str
) -> None:
    ids = await _seed(client, database)
    bobs = await insert_conversation(database, BOB, title="bob's")
    before = await fingerprint(database)
    extra = {"tag": "x"} if action == "addTag" else {}
    r = await _bulk(client, ALICE, ids=[*ids, bobs["conversationId"]], action=action, **extra)
    assert r.status_code == 403
    assert r.json()["error"] == "Unauthorized"
    assert await fingerprint(database) == before


async def test_bulk_with_an_unknown_id_is_404_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    before = await fingerprint(database)
    r = await _bulk(client, ALICE, ids=[*ids, "no-such-conversation"], action="delete")
    assert r.status_code == 404
    assert await fingerprint(database) == before


async def test_bulk_filter_never_reaches_another_users_conversations(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(client, database)
    await insert_conversation(database, BOB, title="chat of bob")
    bob_before = await database.conversations.find({"user": BOB}).to_list(None)
    r = await _bulk(client, ALICE, filter={"search": "chat"}, action="delete")
    assert r.json()["matchedCount"] == 3
    assert await database.conversations.find({"user": BOB}).to_list(None) == bob_before


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [f"id-{i}" for i in range(1001)], "action": "archive"},
        {"ids": [], "action": "archive"},
        {"ids": "abc", "action": "archive"},
        {"ids": ["x"], "filter": {}, "action": "archive"},
        {"action": "archive"},
        {"filter": {"when": "today"}, "action": "archive"},
        {"filter": {"tags": "work"}, "action": "archive"},
        {"filter": {}, "action": "explode"},
        {"filter": {}},
        {"filter": {}, "action": "addTag"},
        {"filter": {}, "action": "addTag", "tag": "   "},
        {"filter": {}, "action": "pin", "tag": "work"},
        {"filter": {}, "action": "pin", "dryRun": "yes"},
        {"filter": {"search": "x" * 501}, "action": "pin"},
    ],
)
async def test_bulk_bad_input_is_400_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    await _seed(client, database)
    before = await fingerprint(database)
    r = await client.post("/api/convos/bulk", json=body, headers=auth(ALICE))
    assert r.status_code == 400, r.text
    assert "error" in r.json()
    assert await fingerprint(database) == before


async def test_bulk_needs_a_token(client: httpx.AsyncClient, database: Database) -> None:
    r = await client.post("/api/convos/bulk", json={"filter": {}, "action": "delete"})
    assert r.status_code == 401


BULK = """
mutation Bulk($selection: ConversationSelectionInput!, $action: BulkAction!,
              $tag: String, $dryRun: Boolean! = false) {
  bulkUpdateConversations(selection: $selection, action: $action, tag: $tag, dryRun: $dryRun) {
    action dryRun matchedCount modifiedCount deletedMessageCount
  }
}
"""


async def test_graphql_bulk_update_applies_the_same_operation(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    body = await gql(
        client,
        BULK,
        {"selection": {"filter": {"tags": ["work"]}}, "action": "ADD_TAG", "tag": "both"},
        user=ALICE,
    )
    assert body["data"]["bulkUpdateConversations"] == {
        "action": "ADD_TAG",
        "dryRun": False,
        "matchedCount": 2,
        "modifiedCount": 2,
        "deletedMessageCount": 0,
    }
    assert (await database.tags.find_one({"user": ALICE, "tag": "both"}) or {})["count"] == 2
    body = await gql(
        client, BULK, {"selection": {"ids": ids}, "action": "DELETE", "dryRun": True}, user=ALICE
    )
    assert body["data"]["bulkUpdateConversations"]["matchedCount"] == 3
    assert await database.conversations.count_documents({"user": ALICE}) == 3


async def test_graphql_bulk_update_refuses_another_users_id_as_forbidden(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(client, database)
    bobs = await insert_conversation(database, BOB)
    before = await fingerprint(database)
    body = await gql(
        client,
        BULK,
        {"selection": {"ids": [*ids, bobs["conversationId"]]}, "action": "DELETE"},
        user=ALICE,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(client, BULK, {"selection": {}, "action": "PIN"}, user=ALICE)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await fingerprint(database) == before


async def test_bulk_on_a_filter_larger_than_a_chunk_changes_each_once_with_an_event_per_chunk(
    client: httpx.AsyncClient,
    database: Database,
    events: RecordingEvents,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from resolvers.operations import selection

    monkeypatch.setattr(selection, "CHUNK", 2)
    ids = [(await insert_conversation(database, ALICE))["conversationId"] for _ in range(5)]
    # Archiving makes each chunk stop matching the filter before the next is read.
    r = await _bulk(client, ALICE, filter={}, action="archive")
    assert (r.json()["matchedCount"], r.json()["modifiedCount"]) == (5, 5)
    assert sorted(len(e.conversation_ids) for e in events.events) == [1, 2, 2]
    assert sorted(cid for e in events.events for cid in e.conversation_ids) == sorted(ids)
    r = await _bulk(client, ALICE, filter={"isArchived": True}, action="addTag", tag="t")
    assert r.json()["modifiedCount"] == 5
    assert (await database.tags.find_one({"user": ALICE, "tag": "t"}) or {})["count"] == 5


async def test_bulk_filter_takes_the_lists_date_filters(
    client: httpx.AsyncClient, database: Database
) -> None:
    old = await insert_conversation(database, ALICE, title="old", createdAt=datetime(2020, 1, 1))
    new = await insert_conversation(database, ALICE, title="new", createdAt=datetime(2026, 1, 1))
    r = await _bulk(
        client, ALICE, filter={"createdAfter": "2025-01-01"}, action="archive", dryRun=False
    )
    assert r.status_code == 200, r.text
    assert r.json()["matchedCount"] == 1
    assert (await _conversation(database, new["conversationId"])).get("isArchived") is True
    assert not (await _conversation(database, old["conversationId"])).get("isArchived")


async def test_bulk_filter_with_a_bad_date_is_400_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(client, database)
    before = await fingerprint(database)
    r = await _bulk(client, ALICE, filter={"createdAfter": "yesterday"}, action="delete")
    assert (r.status_code, r.json()) == (400, {"error": "createdAfter must be an ISO-8601 date"})
    assert await fingerprint(database) == before
