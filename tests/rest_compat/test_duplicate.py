"""POST /api/convos/duplicate: the whole tree copied, title honoured, counts raised."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.settings import Settings
from storage.database import Database, Document
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, snapshot
from tests.utils.trees import ALL, TREE, check_copy, insert_tree, parse_time


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri, fork_user_max=10_000, fork_ip_max=10_000)


@pytest.fixture
async def source(
    client: httpx.AsyncClient, database: Database
) -> tuple[Document, dict[str, Document]]:
    conversation = await insert_conversation(database, ALICE, title="Conversation 2", top_p=1)
    tree = await insert_tree(database, ALICE, conversation["conversationId"])
    response = await client.put(
        f"/api/tags/convo/{conversation['conversationId']}",
        json={"tags": ["work"]},
        headers=auth(ALICE),
    )
    assert response.status_code == 200
    return conversation, tree


async def _duplicate(
    client: httpx.AsyncClient, body: dict[str, Any], user: str = ALICE
) -> httpx.Response:
    return await client.post("/api/convos/duplicate", json=body, headers=auth(user))


async def test_duplicate_copies_the_whole_tree_with_new_ids(
    client: httpx.AsyncClient,
    database: Database,
    source: tuple[Document, dict[str, Document]],
) -> None:
    conversation, tree = source
    response = await _duplicate(client, {"conversationId": conversation["conversationId"]})
    assert response.status_code == 201, response.text
    data = response.json()
    new_id = data["conversation"]["conversationId"]
    by = check_copy(
        data["messages"], tree, conversation_id=new_id, user=ALICE, expected=ALL, roots={"R", "R2"}
    )
    # Same shape: every copied message's parent is its source parent's copy.
    for label, (parent, _) in TREE.items():
        if parent is not None:
            assert by[label]["parentMessageId"] == by[parent]["messageId"]
    # Timestamps kept where they already followed the parent.
    for label in ("R", "A1", "B1", "C1", "D1"):
        assert parse_time(by[label]["createdAt"]) == tree[label]["createdAt"]
    stored = await database.messages.count_documents({"conversationId": new_id, "user": ALICE})
    assert stored == len(TREE)
    copy = data["conversation"]
    assert copy["title"] == "Conversation 2"
    assert copy["top_p"] == 1 and copy["tags"] == ["work"]
    assert copy["messages"] == [m["_id"] for m in data["messages"]]
    assert copy["createdAt"] == copy["updatedAt"]


async def test_duplicate_honours_the_title(
    client: httpx.AsyncClient, source: tuple[Document, dict[str, Document]]
) -> None:
    conversation, _ = source
    cid = conversation["conversationId"]
    named = await _duplicate(client, {"conversationId": cid, "title": "  Copy of Conversation 2 "})
    assert named.json()["conversation"]["title"] == "Copy of Conversation 2"
    blank = await _duplicate(client, {"conversationId": cid, "title": "   "})
    assert blank.json()["conversation"]["title"] == "Conversation 2"
    null = await _duplicate(client, {"conversationId": cid, "title": None})
    assert null.json()["conversation"]["title"] == "Conversation 2"
    long = await _duplicate(client, {"conversationId": cid, "title": "t" * 2000})
    assert long.json()["conversation"]["title"] == "t" * 1024


async def test_duplicate_raises_tag_counts(
    client: httpx.AsyncClient, source: tuple[Document, dict[str, Document]]
) -> None:
    conversation, _ = source
    for _ in range(3):
        response = await _duplicate(client, {"conversationId": conversation["conversationId"]})
        assert response.status_code == 201
    tags = (await client.get("/api/tags", headers=auth(ALICE))).json()
    assert [(t["tag"], t["count"]) for t in tags] == [("work", 4)]


async def test_duplicate_of_a_conversation_without_messages_is_201(
    client: httpx.AsyncClient, database: Database
) -> None:
    conversation = await insert_conversation(database, ALICE, title="Empty")
    response = await _duplicate(client, {"conversationId": conversation["conversationId"]})
    assert response.status_code == 201
    data = response.json()
    assert data["messages"] == [] and data["conversation"]["messages"] == []
    assert await database.conversations.count_documents({"user": ALICE}) == 2


async def test_duplicate_refusals_write_nothing(
    client: httpx.AsyncClient,
    database: Database,
    source: tuple[Document, dict[str, Document]],
) -> None:
    conversation, _ = source
    cid = conversation["conversationId"]
    before = await snapshot(database)
    cases: list[tuple[dict[str, Any], str, int, dict[str, Any]]] = [
        ({}, ALICE, 400, {"error": "conversationId is required"}),
        ({"title": "x"}, ALICE, 400, {"error": "conversationId is required"}),
        ({"conversationId": 42}, ALICE, 400, {"error": "conversationId must be a string"}),
        ({"conversationId": cid, "title": 5}, ALICE, 400, {"error": "title must be a string"}),
        ({"conversationId": cid, "title": ["a"]}, ALICE, 400, {"error": "title must be a string"}),
        (
            {"conversationId": "55555555-5555-5555-5555-555555555555"},
            ALICE,
            404,
            {"error": "Conversation not found"},
        ),
        (
            {"conversationId": cid},
            BOB,
            403,
            {"error": "Unauthorized", "message": "You don't have access to this conversation"},
        ),
    ]
    for body, user, status, expected in cases:
        response = await _duplicate(client, body, user)
        assert (response.status_code, response.json()) == (status, expected), body
    raw = await client.post(
        "/api/convos/duplicate",
        content=b'{"conversationId": {"$ne": null}}',
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert raw.status_code == 400
    assert await snapshot(database) == before
