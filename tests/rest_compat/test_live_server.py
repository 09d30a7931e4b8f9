"""The same routes through a real uvicorn on a loopback port: real sockets,
real header and path parsing (raw paths with %2F), real body streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from storage.database import Database
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread, snapshot
from tests.utils.http import live_server


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with live_server(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        yield client


async def test_list_rename_and_delete_over_real_http(
    http: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Trip")
    await insert_thread(database, ALICE, doc["conversationId"], ["a", "b"])
    response = await http.get("/api/convos", params={"limit": 5}, headers=auth(ALICE))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert [c["title"] for c in response.json()["conversations"]] == ["Trip"]

    response = await http.post(
        "/api/convos/update",
        json={"arg": {"conversationId": doc["conversationId"], "title": " Paris "}},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()["title"]) == (201, "Paris")

    # The real client sends the DELETE body as JSON.
    response = await http.request(
        "DELETE",
        "/api/convos",
        json={"arg": {"conversationId": doc["conversationId"]}},
        headers=auth(ALICE),
    )
    assert response.status_code == 201
    assert response.json()["messages"] == {"acknowledged": True, "deletedCount": 2}


async def test_tag_names_with_encoded_slashes_over_real_http(
    http: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    response = await http.post(
        "/api/tags",
        json={"tag": "a b/c", "addToConversation": True, "conversationId": doc["conversationId"]},
        headers=auth(ALICE),
    )
    assert response.status_code == 200
    response = await http.put("/api/tags/a%20b%2Fc", json={"tag": "x/y"}, headers=auth(ALICE))
    assert (response.status_code, response.json()["tag"]) == (200, "x/y")
    stored = await database.conversations.find_one({"conversationId": doc["conversationId"]})
    assert stored is not None and stored["tags"] == ["x/y"]
    response = await http.put(
        f"/api/tags/convo/{doc['conversationId']}", json={"tags": ["q"]}, headers=auth(ALICE)
    )
    assert (response.status_code, response.json()) == (200, ["q"])
    response = await http.delete("/api/tags/x%2Fy", headers=auth(ALICE))
    assert (response.status_code, response.json()["tag"]) == (200, "x/y")


async def test_auth_unknown_route_and_oversized_body_over_real_http(
    http: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await http.get("/api/convos")
    assert (response.status_code, response.json()) == (401, {"message": "No auth token"})
    response = await http.delete(f"/api/convos/{doc['conversationId']}", headers=auth(ALICE))
    assert (response.status_code, response.json()) == (404, {"message": "Endpoint not found"})
    big = b'{"arg":{"conversationId":"x","title":"' + b"x" * (3 * 1024 * 1024) + b'"}}'
    response = await http.post(
        "/api/convos/update",
        content=big,
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 413
    response = await http.post(
        "/api/convos/update",
        content=b'{"arg":',
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert (response.status_code, response.json()) == (400, {"error": "Invalid JSON body"})
    response = await http.get(f"/api/convos/{doc['conversationId']}", headers=auth(BOB))
    assert response.status_code == 403
    assert await snapshot(database) == before


async def test_graphql_over_real_http(http: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE, title="G")
    await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    response = await http.post(
        "/graphql",
        json={
            "query": "{ conversations(first: 5) { edges { node { title messages { text } } } } }"
        },
        headers=auth(ALICE),
    )
    assert response.status_code == 200
    (edge,) = response.json()["data"]["conversations"]["edges"]
    assert edge["node"] == {"title": "G", "messages": [{"text": "q"}, {"text": "a"}]}
