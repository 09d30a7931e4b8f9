"""Documents already in a LibreChat database: unknown fields, missing optional
fields, ``user`` stored as a string. They are read in the contract's shapes and
written (rename, archive, pin, tag) without losing any field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from bson import ObjectId

from storage.database import Database, Document
from tests.utils.factories import ALICE, BASE_TIME, NO_PARENT, auth
from tests.utils.http import gql

LIBRECHAT_FULL: Document = {
    "conversationId": "8e601492-6eea-4c61-8a65-2efd1342a3ff",
    "user": ALICE,
    "__v": 0,
    "_meiliIndex": True,
    "chatGptLabel": None,
    "chatProjectId": None,
    "createdAt": datetime(2024, 1, 7, 12, 18, 35, 775000),
    "endpoint": "openAI",
    "files": [],
    "frequency_penalty": 0,
    "imageDetail": "auto",
    "isArchived": False,
    "isTemporary": False,
    "messages": [ObjectId("6b0a7823a3d94e45bec1febb"), ObjectId("6b0a7823a3d94e45bec1febc")],
    "model": "gpt-5.6",
    "presence_penalty": 0,
    "promptPrefix": None,
    "resendFiles": True,
    "tags": [],
    "temperature": 1,
    "title": "Conversation 1. Web Search",
    "top_p": 1,
    "updatedAt": datetime(2024, 1, 7, 12, 18, 35, 775000),
    "futureField": {"nested": [1, {"deep": "value"}], "when": BASE_TIME},
}

# An old document: no title, no tags, no isArchived, no model.
LIBRECHAT_MINIMAL: Document = {
    "conversationId": "2af8b946-2d45-422c-ab91-a7f20254af4c",
    "user": ALICE,
    "endpoint": "openAI",
    "createdAt": datetime(2023, 10, 15, 12, 31, 37, 899000),
    "updatedAt": datetime(2023, 10, 15, 12, 31, 37, 899000),
    "agentOptions": {"agent": "functions"},
}


async def _insert(database: Database) -> tuple[Document, Document]:
    full, minimal = dict(LIBRECHAT_FULL), dict(LIBRECHAT_MINIMAL)
    full["futureField"] = {"nested": [1, {"deep": "value"}], "when": BASE_TIME}
    await database.conversations.insert_many([full, minimal])
    return full, minimal


async def _stored(database: Database, cid: str) -> Document:
    doc = await database.conversations.find_one({"conversationId": cid})
    assert doc is not None
    return doc


def _without(doc: Document, *names: str) -> Document:
    return {k: v for k, v in doc.items() if k not in names}


async def test_list_gives_contract_summaries_for_old_documents(
    client: httpx.AsyncClient, database: Database
) -> None:
    full, minimal = await _insert(database)
    response = await client.get("/api/convos", headers=auth(ALICE))
    assert response.status_code == 200
    items = {c["conversationId"]: c for c in response.json()["conversations"]}
    old = items[minimal["conversationId"]]
    for key in (
        "conversationId",
        "title",
        "createdAt",
        "updatedAt",
        "endpoint",
        "model",
        "isArchived",
        "tags",
    ):
        assert key in old, key
    assert old["title"] == "New Chat" and old["model"] is None
    assert old["isArchived"] is False and old["tags"] == []
    assert items[full["conversationId"]]["title"] == "Conversation 1. Web Search"
    response = await client.get("/api/convos", params={"sortBy": "title"}, headers=auth(ALICE))
    assert response.status_code == 200


async def test_get_serves_unknown_fields_as_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    full, _ = await _insert(database)
    response = await client.get(f"/api/convos/{full['conversationId']}", headers=auth(ALICE))
    body = response.json()
    assert body["futureField"] == {
        "nested": [1, {"deep": "value"}],
        "when": "2024-01-15T10:00:00.000Z",
    }
    assert body["chatProjectId"] is None and body["imageDetail"] == "auto"
    assert body["messages"] == ["6b0a7823a3d94e45bec1febb", "6b0a7823a3d94e45bec1febc"]
    assert "__v" not in body and "_meiliIndex" not in body


async def test_rename_archive_and_pin_keep_every_other_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    for original in await _insert(database):
        cid = original["conversationId"]
        response = await client.post(
            "/api/convos/update",
            json={"arg": {"conversationId": cid, "title": "T"}},
            headers=auth(ALICE),
        )
        assert response.status_code == 201
        stored = await _stored(database, cid)
        # A rename also queues the document for LibreChat's search (_meiliIndex).
        changed = ("title", "updatedAt", "_meiliIndex")
        assert _without(stored, *changed) == _without(original, *changed)
        assert stored["_meiliIndex"] is False
        renamed = stored

        response = await client.post(
            "/api/convos/archive",
            json={"arg": {"conversationId": cid, "isArchived": True}},
            headers=auth(ALICE),
        )
        assert response.status_code == 200
        stored = await _stored(database, cid)
        assert _without(stored, "isArchived", "archivedAt") == _without(renamed, "isArchived")
        assert stored["isArchived"] is True and isinstance(stored["archivedAt"], datetime)

        response = await client.post(
            "/api/convos/pin",
            json={"arg": {"conversationId": cid, "pinned": True}},
            headers=auth(ALICE),
        )
        assert response.status_code == 200
        pinned = await _stored(database, cid)
        assert _without(pinned, "pinned") == stored


async def test_tag_operations_keep_every_other_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    _, minimal = await _insert(database)
    cid = minimal["conversationId"]
    response = await client.post(f"/api/tags/convo/{cid}", json={"tag": "a"}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (200, ["a"])
    stored = await _stored(database, cid)
    # Tags are indexed by LibreChat's search: the change queues a re-index.
    assert _without(stored, "tags", "updatedAt", "_meiliIndex") == _without(minimal, "updatedAt")
    assert stored["_meiliIndex"] is False

    response = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": ["a", "b"]}, headers=auth(ALICE)
    )
    assert response.status_code == 200
    response = await client.put("/api/tags/a", json={"tag": "c"}, headers=auth(ALICE))
    assert response.status_code == 200
    response = await client.delete("/api/tags/b", headers=auth(ALICE))
    assert response.status_code == 200
    stored = await _stored(database, cid)
    assert stored["tags"] == ["c"]
    # Tags are indexed by LibreChat's search: the change queues a re-index.
    assert _without(stored, "tags", "updatedAt", "_meiliIndex") == _without(minimal, "updatedAt")
    assert stored["_meiliIndex"] is False


async def test_existing_librechat_tags_are_served_and_extended(
    client: httpx.AsyncClient, database: Database
) -> None:
    # LibreChat's own tags: positions from 1, __v, no description on one.
    await database.tags.insert_many(
        [
            {
                "tag": "Saved",
                "user": ALICE,
                "count": 0,
                "position": 1,
                "__v": 0,
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
            },
            {
                "tag": "work",
                "user": ALICE,
                "count": 2,
                "position": 2,
                "description": "d",
                "__v": 0,
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
                "extra": "kept",
            },
        ]
    )
    response = await client.get("/api/tags", headers=auth(ALICE))
    assert [(t["tag"], t["position"]) for t in response.json()] == [("Saved", 1), ("work", 2)]
    assert all("__v" not in t for t in response.json())
    response = await client.post("/api/tags", json={"tag": "new"}, headers=auth(ALICE))
    assert response.json()["position"] == 3
    response = await client.put("/api/tags/work", json={"description": "e"}, headers=auth(ALICE))
    assert response.status_code == 200 and response.json()["extra"] == "kept"


async def test_graphql_reads_old_documents_and_messages_with_missing_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    _, minimal = await _insert(database)
    cid = minimal["conversationId"]
    await database.messages.insert_many(
        [
            {
                "messageId": "m1",
                "conversationId": cid,
                "user": ALICE,
                "parentMessageId": NO_PARENT,
                "createdAt": BASE_TIME,
                "unknownMessageField": 1,
            },
            {
                "messageId": "m2",
                "conversationId": cid,
                "user": ALICE,
                "parentMessageId": "m1",
                "content": [{"type": "text", "text": "structured"}],
                "isCreatedByUser": False,
                "createdAt": BASE_TIME,
                "tokenCount": 12.0,
                "feedback": {"rating": "thumbsUp"},
            },
            {"messageId": "m3", "conversationId": cid, "user": ALICE, "parentMessageId": None},
        ]
    )
    query = """query($id: String!) { conversation(conversationId: $id) {
        title isArchived pinned tagNames tags { tag } model preset
        messages { messageId text content isCreatedByUser error tokenCount feedback
                   children { messageId } } } }"""
    body = await gql(client, query, {"id": cid}, user=ALICE)
    assert "errors" not in body, body
    node: dict[str, Any] = body["data"]["conversation"]
    assert node["title"] == "New Chat" and node["isArchived"] is False
    assert node["pinned"] is False and node["tagNames"] == [] and node["tags"] == []
    assert node["model"] is None
    assert node["preset"] == {"agentOptions": {"agent": "functions"}}
    by_id = {m["messageId"]: m for m in node["messages"]}
    assert by_id["m1"]["text"] is None and by_id["m1"]["children"] == [{"messageId": "m2"}]
    assert by_id["m2"]["content"] == [{"type": "text", "text": "structured"}]
    assert by_id["m2"]["tokenCount"] == 12 and by_id["m2"]["feedback"] == {"rating": "thumbsUp"}
    assert by_id["m3"]["error"] is False
