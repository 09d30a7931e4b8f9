"""The main /api/convos routes answer in LibreChat's shapes."""

from __future__ import annotations

import httpx

from storage.database import Database
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread


async def test_list_returns_own_conversations_with_contract_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await insert_conversation(database, ALICE, title="Trip plan")
    await insert_conversation(database, BOB, title="Bob's")
    response = await client.get("/api/convos", headers=auth(ALICE))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert [c["conversationId"] for c in body["conversations"]] == [mine["conversationId"]]
    item = body["conversations"][0]
    assert item["createdAt"] == "2024-01-15T10:00:00.000Z"
    assert item["isArchived"] is False and item["tags"] == []
    assert len(item["_id"]) == 24
    assert "__v" not in item and "messages" not in item
    assert body["nextCursor"] is None
    assert (body["pageNumber"], body["pageSize"], body["pages"]) == (1, 25, 1)


async def test_get_returns_whole_document_without_internal_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, temperature=0.7, _meiliIndex=True)
    response = await client.get(f"/api/convos/{doc['conversationId']}", headers=auth(ALICE))
    assert response.status_code == 200
    body = response.json()
    assert body["temperature"] == 0.7
    assert "__v" not in body and "_meiliIndex" not in body


async def test_get_foreign_conversation_is_403_and_unknown_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    foreign = await client.get(f"/api/convos/{doc['conversationId']}", headers=auth(BOB))
    assert foreign.status_code == 403
    assert foreign.json() == {
        "error": "Unauthorized",
        "message": "You don't have access to this conversation",
    }
    missing = await client.get("/api/convos/nope", headers=auth(ALICE))
    assert missing.status_code == 404
    assert missing.json() == {"error": "Conversation not found"}


async def test_graphql_page_with_messages_and_tags(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="T", tags=["work"])
    await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    await client.post("/api/tags", json={"tag": "work"}, headers=auth(ALICE))
    query = """{ conversations(first: 5) { totalCount edges { node {
        title tags { tag count } messages { text children { text } } } } } }"""
    response = await client.post("/graphql", json={"query": query}, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    node = response.json()["data"]["conversations"]["edges"][0]["node"]
    assert response.json()["data"]["conversations"]["totalCount"] == 1
    assert node["tags"] == [{"tag": "work", "count": 0}]
    assert [m["text"] for m in node["messages"]] == ["q", "a"]
    assert node["messages"][0]["children"] == [{"text": "a"}]
