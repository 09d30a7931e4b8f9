"""User B can neither read nor change user A's data, on any REST route or
GraphQL field/mutation: B's requests leave every document of A exactly as it
was and no response to B carries A's data."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from storage.database import Database, Document
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread, snapshot
from tests.utils.http import error_codes, gql

SECRET_TITLE = "alice-secret-title"
SECRET_TAG = "alice-secret-tag"
SECRET_TEXT = "alice-secret-message"
SHARED_TAG = "work"


async def _alice_data(database: Database) -> dict[str, list[Document]]:
    return {
        name: [d for d in docs if d.get("user") == ALICE]
        for name, docs in (await snapshot(database)).items()
    }


async def _seed(client: httpx.AsyncClient, database: Database) -> str:
    """Alice's conversation with messages and tags; Bob has a tag of the same name."""
    doc = await insert_conversation(database, ALICE, title=SECRET_TITLE)
    cid: str = doc["conversationId"]
    await insert_thread(database, ALICE, cid, [SECRET_TEXT, "answer"])
    r = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": [SECRET_TAG, SHARED_TAG]}, headers=auth(ALICE)
    )
    assert r.status_code == 200
    r = await client.post("/api/tags", json={"tag": SHARED_TAG}, headers=auth(BOB))
    assert r.status_code == 200
    return cid


def _leaks(text: str) -> list[str]:
    """Alice's strings in a response to Bob (her id marks any document of hers)."""
    return [s for s in (SECRET_TITLE, SECRET_TEXT, ALICE) if s in text]


def _bob_rest_requests(cid: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", "/api/convos", None),
        ("GET", f"/api/convos?search={SECRET_TITLE}", None),
        ("GET", f"/api/convos?search={SECRET_TEXT}", None),
        ("GET", f"/api/convos?tags={SECRET_TAG}", None),
        ("GET", f"/api/convos?tags={SHARED_TAG}", None),
        ("GET", "/api/convos?isArchived=true", None),
        ("GET", f"/api/convos/{cid}", None),
        ("POST", "/api/convos/update", {"arg": {"conversationId": cid, "title": "hijack"}}),
        ("POST", "/api/convos/archive", {"arg": {"conversationId": cid, "isArchived": True}}),
        ("POST", "/api/convos/pin", {"arg": {"conversationId": cid, "pinned": True}}),
        ("DELETE", "/api/convos", {"arg": {"conversationId": cid}}),
        ("GET", "/api/tags", None),
        ("GET", "/api/tags/list?pageNumber=1", None),
        ("PUT", f"/api/tags/{SECRET_TAG}", {"tag": "x"}),
        ("DELETE", f"/api/tags/{SECRET_TAG}", None),
        ("POST", "/api/tags", {"tag": SECRET_TAG}),
        ("POST", "/api/tags", {"tag": "b", "addToConversation": True, "conversationId": cid}),
        ("PUT", f"/api/tags/{SHARED_TAG}", {"tag": "renamed-by-bob", "position": 5}),
        ("PUT", f"/api/tags/convo/{cid}", {"tags": ["bobtag"]}),
        ("POST", f"/api/tags/convo/{cid}", {"tag": "bobtag"}),
        ("DELETE", f"/api/tags/{SHARED_TAG}", None),
        ("DELETE", "/api/convos/all", None),
    ]


async def test_bob_can_neither_read_nor_change_alices_data_over_rest(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid = await _seed(client, database)
    before = await _alice_data(database)
    statuses: dict[str, int] = {}
    for method, path, body in _bob_rest_requests(cid):
        response = await client.request(
            method,
            path,
            content=orjson.dumps(body) if body is not None else None,
            headers={**auth(BOB), "content-type": "application/json"},
        )
        assert response.status_code < 500, (method, path, response.text)
        assert _leaks(response.text) == [], (method, path, response.text)
        statuses[f"{method} {path}"] = response.status_code
        assert await _alice_data(database) == before, (method, path)
    # The conversation routes name the owner problem; Bob's own tag ops succeed on his data.
    assert statuses[f"GET /api/convos/{cid}"] == 403
    assert statuses["POST /api/convos/update"] == 403
    assert statuses[f"PUT /api/tags/{SECRET_TAG}"] == 404
    assert statuses[f"DELETE /api/tags/{SECRET_TAG}"] == 404
    assert statuses[f"PUT /api/tags/{SHARED_TAG}"] == 200


async def test_lists_for_bob_hold_only_bobs_data(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(client, database)
    mine = await insert_conversation(database, BOB, title="bob's")
    response = await client.get("/api/convos", headers=auth(BOB))
    assert [c["conversationId"] for c in response.json()["conversations"]] == [
        mine["conversationId"]
    ]
    tags = (await client.get("/api/tags", headers=auth(BOB))).json()
    assert [(t["tag"], t["user"]) for t in tags] == [(SHARED_TAG, BOB)]


async def test_same_conversation_id_for_two_users_stays_two_conversations(
    client: httpx.AsyncClient, database: Database
) -> None:
    """LibreChat's unique index is (conversationId, user): ids may collide."""
    cid = await _seed(client, database)
    await insert_conversation(database, BOB, conversationId=cid, title="bob's copy")
    await insert_thread(database, BOB, cid, ["bob text"])
    before = await _alice_data(database)
    response = await client.post(
        "/api/convos/update",
        json={"arg": {"conversationId": cid, "title": "mine"}},
        headers=auth(BOB),
    )
    assert response.status_code == 201 and response.json()["user"] == BOB
    response = await client.get(f"/api/convos?search={SECRET_TEXT}", headers=auth(BOB))
    assert response.json()["conversations"] == []
    body = await gql(
        client,
        "query($id: String!) { conversation(conversationId: $id) { title messages { text } } }",
        {"id": cid},
        user=BOB,
    )
    node = body["data"]["conversation"]
    assert node["title"] == "mine"
    assert [m["text"] for m in node["messages"]] == ["bob text"]
    response = await client.request(
        "DELETE", "/api/convos", json={"arg": {"conversationId": cid}}, headers=auth(BOB)
    )
    assert response.status_code == 201
    assert response.json()["messages"]["deletedCount"] == 1
    assert await _alice_data(database) == before


async def test_graphql_tags_of_bobs_conversation_never_resolve_to_alices_tags(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(client, database)
    # Bob's conversation carries a tag name only Alice has a tag document for.
    bobs = await insert_conversation(database, BOB, tags=[SECRET_TAG])
    body = await gql(
        client,
        "query($id: String!) { conversation(conversationId: $id) { tagNames tags { tag } } }",
        {"id": bobs["conversationId"]},
        user=BOB,
    )
    assert body["data"]["conversation"] == {"tagNames": [SECRET_TAG], "tags": []}


GRAPHQL_READS = [
    ("query($id: String!) { conversation(conversationId: $id) { title } }", "FORBIDDEN"),
    (
        "query($id: String!) { conversation(conversationId: $id) { messages { text } } }",
        "FORBIDDEN",
    ),
]

GRAPHQL_MUTATIONS = [
    (
        'mutation($id: String!) { updateConversationTitle(conversationId: $id, title: "h") '
        "{ title } }",
        "FORBIDDEN",
    ),
    (
        "mutation($id: String!) { archiveConversation(conversationId: $id, isArchived: true) "
        "{ isArchived } }",
        "FORBIDDEN",
    ),
    (
        "mutation($id: String!) { pinConversation(conversationId: $id, pinned: true) { pinned } }",
        "FORBIDDEN",
    ),
    (
        "mutation($id: String!) { deleteConversation(conversationId: $id) { deletedCount } }",
        "FORBIDDEN",
    ),
    (
        'mutation($id: String!) { setConversationTags(conversationId: $id, tags: ["b"]) '
        "{ tagNames } }",
        "FORBIDDEN",
    ),
    (
        'mutation($id: String!) { addConversationTag(conversationId: $id, tag: "b") { tagNames } }',
        "FORBIDDEN",
    ),
    (
        'mutation($id: String!) { createTag(input: {tag: "b", conversationId: $id}) { tag } }',
        "FORBIDDEN",
    ),
    (f'mutation {{ updateTag(tag: "{SECRET_TAG}", input: {{tag: "x"}}) {{ tag }} }}', "NOT_FOUND"),
    (f'mutation {{ deleteTag(tag: "{SECRET_TAG}") {{ tag }} }}', "NOT_FOUND"),
]


@pytest.mark.parametrize(("query", "code"), GRAPHQL_READS + GRAPHQL_MUTATIONS)
async def test_bob_gets_forbidden_or_not_found_over_graphql_and_nothing_changes(
    client: httpx.AsyncClient, database: Database, query: str, code: str
) -> None:
    cid = await _seed(client, database)
    before = await _alice_data(database)
    variables = {"id": cid} if "$id" in query else None
    body = await gql(client, query, variables, user=BOB)
    assert error_codes(body) == [code]
    assert body["data"] is None
    assert _leaks(orjson.dumps(body).decode()) == []
    assert await _alice_data(database) == before


async def test_bobs_graphql_lists_and_bulk_mutations_leave_alice_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid = await _seed(client, database)
    before = await _alice_data(database)
    queries = [
        "{ conversations(first: 10) { totalCount"
        " edges { node { title messages { text } tags { tag } } } } }",
        f'{{ conversations(search: "{SECRET_TEXT}") {{ totalCount edges {{ cursor }} }} }}',
        f'{{ conversations(tags: ["{SECRET_TAG}"], isArchived: false) {{ totalCount }} }}',
        "{ tags { tag count } }",
        f'mutation {{ createTag(input: {{tag: "{SECRET_TAG}"}}) {{ tag count position }} }}',
        f'mutation {{ updateTag(tag: "{SHARED_TAG}", input: {{tag: "z"}}) {{ tag }} }}',
        "mutation { deleteAllConversations { deletedCount deletedMessageCount conversationIds } }",
    ]
    for query in queries:
        body = await gql(client, query, user=BOB)
        assert "errors" not in body, body
        assert cid not in orjson.dumps(body).decode()
        assert _leaks(orjson.dumps(body).decode()) == []
        assert await _alice_data(database) == before, query
