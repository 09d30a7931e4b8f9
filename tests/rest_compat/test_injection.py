"""MongoDB operators never arrive from a client: ``$`` keys anywhere in a body
are a 400 with the database unchanged; objects where strings belong in query
strings or paths are read as plain strings and leak nothing."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from storage.database import Database
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread, snapshot
from tests.utils.http import gql

OPERATOR = {"$ne": None}


def _bodies(cid: str) -> list[tuple[str, str, Any]]:
    """Bodies with a ``$`` key at the top, nested in objects, and inside arrays."""
    return [
        ("POST", "/api/convos/update", {"arg": {"conversationId": OPERATOR, "title": "x"}}),
        ("POST", "/api/convos/update", {"arg": {"conversationId": cid, "title": {"$gt": ""}}}),
        (
            "POST",
            "/api/convos/update",
            {"$set": {"title": "x"}, "arg": {"conversationId": cid, "title": "x"}},
        ),
        (
            "POST",
            "/api/convos/update",
            {"arg": {"conversationId": cid, "title": "x", "meta": [{"a": [{"$where": "1"}]}]}},
        ),
        ("POST", "/api/convos/archive", {"arg": {"conversationId": OPERATOR, "isArchived": True}}),
        ("POST", "/api/convos/pin", {"arg": {"conversationId": {"$regex": ".*"}, "pinned": True}}),
        ("DELETE", "/api/convos", {"arg": {"conversationId": OPERATOR}}),
        ("DELETE", "/api/convos", {"arg": {"conversationId": cid, "source": {"$exists": True}}}),
        ("DELETE", "/api/convos/all", {"arg": {"user": OPERATOR}}),
        ("POST", "/api/tags", {"tag": {"$gt": ""}}),
        ("POST", "/api/tags", {"tag": "t", "addToConversation": True, "conversationId": OPERATOR}),
        ("PUT", "/api/tags/work", {"tag": "x", "position": {"$inc": 1}}),
        ("PUT", f"/api/tags/convo/{cid}", {"tags": [OPERATOR]}),
        ("PUT", f"/api/tags/convo/{cid}", {"tags": ["a"], "x": [[{"$where": "sleep(1)"}]]}),
        ("POST", f"/api/tags/convo/{cid}", {"tag": {"$in": ["work"]}}),
        ("DELETE", "/api/tags/work", {"$where": "1"}),
    ]


@pytest.mark.parametrize("index", range(16))
async def test_dollar_keys_anywhere_in_a_body_are_400_and_change_nothing(
    client: httpx.AsyncClient, database: Database, index: int
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["work"])
    await insert_conversation(database, ALICE, tags=["work"])
    await insert_conversation(database, BOB, tags=["work"])
    await insert_thread(database, ALICE, doc["conversationId"], ["a", "b"])
    r = await client.post("/api/tags", json={"tag": "work"}, headers=auth(ALICE))
    assert r.status_code == 200
    bodies = _bodies(doc["conversationId"])
    assert len(bodies) == 16
    method, path, body = bodies[index]
    before = await snapshot(database)
    response = await client.request(
        method,
        path,
        content=orjson.dumps(body),
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith('Keys starting with "$" are not allowed')
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        (
            "/api/convos/update",
            {"arg": {"conversationId": {"a": 1}, "title": "x"}},
            "conversationId must be a string",
        ),
        (
            "/api/convos/update",
            {"arg": {"conversationId": ["x"], "title": "x"}},
            "conversationId must be a string",
        ),
        (
            "/api/convos/archive",
            {"arg": {"conversationId": True, "isArchived": True}},
            "conversationId must be a string",
        ),
        ("/api/tags", {"tag": {"name": "x"}}, "tag must be a string"),
    ],
)
async def test_objects_where_strings_belong_are_400(
    client: httpx.AsyncClient, database: Database, path: str, body: Any, error: str
) -> None:
    await insert_conversation(database, ALICE)
    before = await snapshot(database)
    response = await client.post(path, json=body, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert await snapshot(database) == before


async def test_operator_like_strings_as_values_are_stored_literally(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    response = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": doc["conversationId"], "title": "$where: 1"}},
        headers=auth(ALICE),
    )
    assert response.status_code == 201 and response.json()["title"] == "$where: 1"
    response = await client.post("/api/tags", json={"tag": "$ne"}, headers=auth(ALICE))
    assert response.status_code == 200 and response.json()["tag"] == "$ne"


async def test_deeply_nested_body_is_400(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    response = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": doc["conversationId"], "title": "t", "n": nested}},
        headers=auth(ALICE),
    )
    assert response.status_code == 400
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    "query",
    [
        "tags[$ne]=x",
        "tags[$exists]=true",
        "tags=%7B%22%24ne%22%3Anull%7D",
        "search[$regex]=.*",
        "cursor[$gt]=",
        "isArchived[$ne]=true",
        "sortBy[$ne]=x",
        "user=" + BOB,
        "user[$ne]=x",
        "conversationId[$ne]=x",
    ],
)
async def test_operator_shaped_query_params_leak_nothing(
    client: httpx.AsyncClient, database: Database, query: str
) -> None:
    mine = await insert_conversation(database, ALICE, tags=["work"])
    await insert_conversation(database, BOB, tags=["work"])
    await insert_conversation(database, ALICE, isArchived=True)
    response = await client.get(f"/api/convos?{query}", headers=auth(ALICE))
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        ids = [c["conversationId"] for c in response.json()["conversations"]]
        # Only Alice's own unarchived conversation, or nothing when the
        # parameter is read as a literal string that matches nothing.
        assert ids in ([mine["conversationId"]], [])
        assert BOB not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/convos/%7B%22%24ne%22%3Anull%7D",
        "/api/convos/%24ne",
        "/api/convos/.%2A",
    ],
)
async def test_operator_shaped_path_ids_are_literal_strings(
    client: httpx.AsyncClient, database: Database, path: str
) -> None:
    await insert_conversation(database, ALICE)
    await insert_conversation(database, BOB)
    response = await client.get(path, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (404, {"error": "Conversation not found"})


async def test_regex_shaped_tag_paths_touch_only_that_literal_tag(
    client: httpx.AsyncClient, database: Database
) -> None:
    for name in ("work", "home"):
        r = await client.post("/api/tags", json={"tag": name}, headers=auth(ALICE))
        assert r.status_code == 200
    before = await snapshot(database)
    for path in ("/api/tags/.%2A", "/api/tags/%5Ew", "/api/tags/%24ne"):
        response = await client.delete(path, headers=auth(ALICE))
        assert (response.status_code, response.json()) == (404, {"error": "Tag not found"})
    assert await snapshot(database) == before


async def test_graphql_variables_with_operators_are_rejected(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    before = await snapshot(database)
    body = await gql(
        client,
        "mutation($id: String!) { deleteConversation(conversationId: $id) { deletedCount } }",
        {"id": OPERATOR},
        user=ALICE,
    )
    assert body.get("data") is None and body["errors"]
    body = await gql(
        client,
        "query($t: [String!]) { conversations(tags: $t) { totalCount } }",
        {"t": [OPERATOR]},
        user=ALICE,
    )
    assert body.get("data") is None and body["errors"]
    assert await snapshot(database) == before
    assert doc["conversationId"]
