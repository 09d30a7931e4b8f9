"""GraphQL: the same operations as REST, with extensions.code errors, masked
internal errors, messages ordered with ``children`` rebuilding the tree and
tags served as Tag objects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from app.settings import Settings
from storage import tags as tag_store
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    NO_PARENT,
    auth,
    conversation_doc,
    insert_conversation,
    insert_thread,
    message_doc,
    snapshot,
)
from tests.utils.http import error_codes, gql


async def _data(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    user: str = ALICE,
) -> dict[str, Any]:
    body = await gql(client, query, variables, user=user)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _error(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    user: str = ALICE,
) -> tuple[str, str]:
    body = await gql(client, query, variables, user=user)
    assert body["data"] is None, body
    (error,) = body["errors"]
    return error["extensions"]["code"], error["message"]


@pytest.fixture(params=[True, False], ids=["fast-path", "normal-path"])
def settings(request: pytest.FixtureRequest, mongo_uri: str) -> Settings:
    """Every test here runs with GRAPHQL_FAST_PATH on and off: same answers."""
    return make_settings(mongo_uri, graphql_fast_path=request.param)


# --- queries -----------------------------------------------------------------


async def test_conversation_fields_tags_and_preset(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(
        database,
        ALICE,
        title="T",
        modelLabel="L",
        iconURL="u",
        agent_id="a1",
        spec="s",
        endpointType="custom",
        pinned=True,
        temperature=0.2,
        tags=["work", "ghost"],
    )
    await client.post("/api/tags", json={"tag": "work", "description": "d"}, headers=auth(ALICE))
    await client.put(
        f"/api/tags/convo/{doc['conversationId']}", json={"tags": ["work"]}, headers=auth(ALICE)
    )
    await database.conversations.update_one(
        {"_id": doc["_id"]}, {"$set": {"tags": ["work", "ghost"]}}
    )
    data = await _data(
        client,
        """query($id: String!) { conversation(conversationId: $id) {
        conversationId title endpoint endpointType model modelLabel iconURL agentId assistantId
        spec isArchived archivedAt pinned tagNames createdAt updatedAt preset
        tags { tag description count position createdAt } } }""",
        {"id": doc["conversationId"]},
    )
    node = data["conversation"]
    assert node["title"] == "T" and node["modelLabel"] == "L" and node["iconURL"] == "u"
    assert node["agentId"] == "a1" and node["assistantId"] is None and node["spec"] == "s"
    assert node["endpointType"] == "custom" and node["pinned"] is True
    assert node["isArchived"] is False and node["archivedAt"] is None
    assert node["createdAt"] == "2024-01-15T10:00:00.000Z"
    assert node["tagNames"] == ["work", "ghost"]
    # Tag objects for the tags that exist; a dangling name has none.
    assert [(t["tag"], t["description"], t["count"], t["position"]) for t in node["tags"]] == [
        ("work", "d", 1, 0)
    ]
    assert node["preset"] == {"temperature": 0.2, "files": []}


async def test_messages_are_ordered_and_children_rebuild_the_tree(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    t = [BASE_TIME + timedelta(seconds=s) for s in range(5)]
    root = message_doc(ALICE, cid, text="root", created_at=t[0])
    a = message_doc(ALICE, cid, parent=root["messageId"], text="a", created_at=t[1])
    b = message_doc(ALICE, cid, parent=root["messageId"], text="b", created_at=t[2])
    c = message_doc(ALICE, cid, parent=a["messageId"], text="c", created_at=t[3])
    # Same createdAt as c: ordered by _id after it.
    d = message_doc(ALICE, cid, parent=a["messageId"], text="d", created_at=t[3])
    c["_id"], d["_id"] = ObjectId("6b0a7823a3d94e45bec1fe01"), ObjectId("6b0a7823a3d94e45bec1fe02")
    other = message_doc(BOB, cid, text="bob's", created_at=t[0])
    await database.messages.insert_many([d, c, b, other, a, root])
    data = await _data(
        client,
        """query($id: String!) { conversation(conversationId: $id) {
        messages { text parentMessageId children { text children { text } } } } }""",
        {"id": cid},
    )
    messages = data["conversation"]["messages"]
    assert [m["text"] for m in messages] == ["root", "a", "b", "c", "d"]
    assert messages[0]["parentMessageId"] == NO_PARENT
    assert messages[0]["children"] == [
        {"text": "a", "children": [{"text": "c"}, {"text": "d"}]},
        {"text": "b", "children": []},
    ]
    assert messages[3]["children"] == []


async def test_messages_of_many_conversations_on_one_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    for i in range(4):
        doc = await insert_conversation(
            database, ALICE, title=f"c{i}", updatedAt=BASE_TIME - timedelta(minutes=i)
        )
        await insert_thread(database, ALICE, doc["conversationId"], [f"q{i}", f"a{i}"])
    await insert_conversation(
        database, ALICE, title="empty", updatedAt=BASE_TIME - timedelta(hours=1)
    )
    data = await _data(
        client, "{ conversations(first: 5) { edges { node { title messages { text } } } } }"
    )
    assert [
        (e["node"]["title"], [m["text"] for m in e["node"]["messages"]])
        for e in data["conversations"]["edges"]
    ] == [
        ("c0", ["q0", "a0"]),
        ("c1", ["q1", "a1"]),
        ("c2", ["q2", "a2"]),
        ("c3", ["q3", "a3"]),
        ("empty", []),
    ]


async def test_conversations_filters_sorts_and_total(
    client: httpx.AsyncClient, database: Database
) -> None:
    work = await insert_conversation(database, ALICE, title="Report", tags=["work"], pinned=True)
    await insert_conversation(
        database, ALICE, title="Other", updatedAt=BASE_TIME - timedelta(minutes=1)
    )
    archived = await insert_conversation(
        database, ALICE, title="Old", isArchived=True, archivedAt=BASE_TIME
    )
    searched = await insert_conversation(
        database, ALICE, title="x", updatedAt=BASE_TIME - timedelta(minutes=2)
    )
    await insert_thread(database, ALICE, searched["conversationId"], ["about the REPORT"])
    await insert_conversation(database, ALICE, title="temp", expiredAt=BASE_TIME)

    async def ids(args: str) -> tuple[list[str], int]:
        data = await _data(
            client,
            f"{{ conversations{args} {{ totalCount edges {{ node {{ conversationId }} }} }} }}",
        )
        page = data["conversations"]
        return [e["node"]["conversationId"] for e in page["edges"]], page["totalCount"]

    assert (await ids(""))[1] == 3
    assert await ids('(tags: ["work"])') == ([work["conversationId"]], 1)
    assert await ids("(isArchived: true)") == ([archived["conversationId"]], 1)
    assert await ids("(pinned: true)") == ([work["conversationId"]], 1)
    assert await ids('(search: "report")') == (
        [work["conversationId"], searched["conversationId"]],
        2,
    )
    titles, _ = await ids("(sortBy: TITLE, sortDirection: ASC)")
    assert len(titles) == 3


async def test_conversations_first_is_clamped_and_validated(
    client: httpx.AsyncClient, database: Database
) -> None:
    await database.conversations.insert_many(
        [conversation_doc(ALICE, updatedAt=BASE_TIME - timedelta(seconds=i)) for i in range(105)]
    )
    data = await _data(
        client, "{ conversations(first: 1000) { edges { cursor } pageInfo { hasNextPage } } }"
    )
    assert len(data["conversations"]["edges"]) == 100
    assert data["conversations"]["pageInfo"]["hasNextPage"] is True
    for first in (0, -1):
        code, message = await _error(
            client, f"{{ conversations(first: {first}) {{ totalCount }} }}"
        )
        assert (code, message) == ("BAD_USER_INPUT", "limit must be between 1 and 100")


async def test_after_accepts_rest_cursors_and_refuses_garbage(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = [conversation_doc(ALICE, updatedAt=BASE_TIME - timedelta(minutes=i)) for i in range(3)]
    await database.conversations.insert_many(docs)
    rest = (await client.get("/api/convos?limit=1", headers=auth(ALICE))).json()
    data = await _data(
        client,
        "query($a: String) { conversations(after: $a) { edges { node { conversationId } } } }",
        {"a": rest["nextCursor"]},
    )
    assert [e["node"]["conversationId"] for e in data["conversations"]["edges"]] == [
        d["conversationId"] for d in docs[1:]
    ]
    code, message = await _error(client, '{ conversations(after: "garbage") { totalCount } }')
    assert (code, message) == ("BAD_USER_INPUT", "Invalid cursor")


async def test_tags_query_is_ordered_by_position(
    client: httpx.AsyncClient, database: Database
) -> None:
    for name in ("b", "a", "c"):
        await client.post("/api/tags", json={"tag": name}, headers=auth(ALICE))
    await client.post("/api/tags", json={"tag": "bobs"}, headers=auth(BOB))
    data = await _data(client, "{ tags { tag position count updatedAt } }")
    assert [(t["tag"], t["position"]) for t in data["tags"]] == [("b", 0), ("a", 1), ("c", 2)]


# --- mutations -----------------------------------------------------------------


async def test_update_title_trims_cuts_and_never_creates(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    mutation = (
        "mutation($id: String!, $t: String!) { updateConversationTitle("
        "conversationId: $id, title: $t) { title updatedAt } }"
    )
    data = await _data(client, mutation, {"id": doc["conversationId"], "t": "  x" + "y" * 2000})
    assert data["updateConversationTitle"]["title"] == "x" + "y" * 1023
    assert data["updateConversationTitle"]["updatedAt"] > "2024-01-15T10:00:00.000Z"
    before = await snapshot(database)
    assert await _error(client, mutation, {"id": "ghost", "t": "t"}) == (
        "NOT_FOUND",
        "Conversation not found",
    )
    assert await _error(client, mutation, {"id": doc["conversationId"], "t": "t"}, user=BOB) == (
        "FORBIDDEN",
        "You don't have access to this conversation",
    )
    code, _ = await _error(client, mutation, {"id": "x" * 201, "t": "t"})
    assert code == "BAD_USER_INPUT"
    assert await snapshot(database) == before


async def test_archive_and_pin_leave_updated_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE)
    variables = {"id": doc["conversationId"]}
    data = await _data(
        client,
        "mutation($id: String!) { archiveConversation(conversationId: $id,"
        " isArchived: true) { isArchived archivedAt updatedAt } }",
        variables,
    )
    node = data["archiveConversation"]
    assert node["isArchived"] is True and node["archivedAt"] is not None
    assert node["updatedAt"] == "2024-01-15T10:00:00.000Z"
    data = await _data(
        client,
        "mutation($id: String!) { archiveConversation(conversationId: $id,"
        " isArchived: false) { isArchived archivedAt } }",
        variables,
    )
    assert data["archiveConversation"] == {"isArchived": False, "archivedAt": None}
    data = await _data(
        client,
        "mutation($id: String!) { pinConversation(conversationId: $id, "
        "pinned: true) { pinned updatedAt } }",
        variables,
    )
    assert data["pinConversation"] == {"pinned": True, "updatedAt": "2024-01-15T10:00:00.000Z"}


async def test_delete_and_delete_all(client: httpx.AsyncClient, database: Database) -> None:
    a = await insert_conversation(database, ALICE)
    b = await insert_conversation(database, ALICE)
    await insert_thread(database, ALICE, a["conversationId"], ["1", "2", "3"])
    await insert_thread(database, ALICE, b["conversationId"], ["4"])
    await client.put(
        f"/api/tags/convo/{a['conversationId']}", json={"tags": ["t"]}, headers=auth(ALICE)
    )
    fields = "{ deletedCount deletedMessageCount conversationIds }"
    data = await _data(
        client,
        f"mutation($id: String!) {{ deleteConversation(conversationId: $id) {fields} }}",
        {"id": a["conversationId"]},
    )
    assert data["deleteConversation"] == {
        "deletedCount": 1,
        "deletedMessageCount": 3,
        "conversationIds": [a["conversationId"]],
    }
    assert (await _data(client, "{ tags { count } }"))["tags"] == [{"count": 0}]
    assert await _error(
        client,
        "mutation($id: String!) { deleteConversation(conversationId: $id) { deletedCount } }",
        {"id": a["conversationId"]},
    ) == ("NOT_FOUND", "Conversation not found")
    data = await _data(client, f"mutation {{ deleteAllConversations {fields} }}")
    assert data["deleteAllConversations"] == {
        "deletedCount": 1,
        "deletedMessageCount": 1,
        "conversationIds": [b["conversationId"]],
    }
    data = await _data(client, f"mutation {{ deleteAllConversations {fields} }}")
    assert data["deleteAllConversations"]["deletedCount"] == 0


async def test_tag_mutations(client: httpx.AsyncClient, database: Database) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    create = (
        "mutation($i: CreateTagInput!) { createTag(input: $i) { tag description count position } }"
    )
    data = await _data(
        client, create, {"i": {"tag": "work", "description": "d", "conversationId": cid}}
    )
    assert data["createTag"] == {"tag": "work", "description": "d", "count": 1, "position": 0}
    data = await _data(client, create, {"i": {"tag": "work", "description": "other"}})
    assert data["createTag"]["description"] == "d"
    await _data(client, create, {"i": {"tag": "home"}})

    update = (
        "mutation($t: String!, $i: UpdateTagInput!) { updateTag(tag: $t, input: $i) "
        "{ tag position count } }"
    )
    assert await _error(client, update, {"t": "work", "i": {"tag": "home"}}) == (
        "CONFLICT",
        "Tag already exists",
    )
    data = await _data(client, update, {"t": "work", "i": {"tag": "job", "position": 1}})
    assert data["updateTag"] == {"tag": "job", "position": 1, "count": 1}
    assert await _error(client, update, {"t": "nope", "i": {"tag": "x"}}) == (
        "NOT_FOUND",
        "Tag not found",
    )
    code, _ = await _error(client, update, {"t": "job", "i": {"position": -1}})
    assert code == "BAD_USER_INPUT"

    set_tags = (
        "mutation($c: String!, $t: [String!]!) { setConversationTags(conversationId: $c,"
        " tags: $t) { tagNames tags { tag count } } }"
    )
    data = await _data(client, set_tags, {"c": cid, "t": ["job", "new", "job"]})
    assert data["setConversationTags"]["tagNames"] == ["job", "new"]
    assert data["setConversationTags"]["tags"] == [
        {"tag": "job", "count": 1},
        {"tag": "new", "count": 1},
    ]
    add = (
        "mutation($c: String!, $t: String!) { addConversationTag(conversationId: $c, tag: $t)"
        " { tagNames } }"
    )
    for _ in range(2):
        data = await _data(client, add, {"c": cid, "t": "home"})
        assert data["addConversationTag"]["tagNames"] == ["job", "new", "home"]
    data = await _data(client, 'mutation { deleteTag(tag: "job") { tag count } }')
    assert data["deleteTag"] == {"tag": "job", "count": 1}
    data = await _data(client, "{ tags { tag position count } }")
    assert data["tags"] == [
        {"tag": "home", "position": 0, "count": 1},
        {"tag": "new", "position": 1, "count": 1},
    ]
    code, message = await _error(client, 'mutation { deleteTag(tag: "") { tag } }')
    assert (code, message) == ("BAD_USER_INPUT", "tag is required")


# --- errors --------------------------------------------------------------------


async def test_internal_errors_are_masked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> list[dict[str, Any]]:
        raise RuntimeError("secret internals at /srv/db")

    monkeypatch.setattr(tag_store, "list_all", broken)
    body = await gql(client, "{ tags { tag } }", user=ALICE)
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["tags"],
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    ]
    response = await client.get("/api/tags", headers=auth(ALICE))
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error"})
    assert "secret" not in response.text


async def test_query_errors_describe_the_request_unmasked(client: httpx.AsyncClient) -> None:
    body = await gql(client, "{ nope }", user=ALICE)
    assert "Cannot query field 'nope'" in body["errors"][0]["message"]
    body = await gql(client, '{ conversations(first: "x") { totalCount } }', user=ALICE)
    assert "Int cannot represent" in body["errors"][0]["message"]
    assert error_codes(await gql(client, "{ tags { tag } }")) == ["UNAUTHENTICATED"]
