"""GraphQL forkConversation and duplicateConversation: same operation as REST."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.settings import Settings
from storage.database import Database, Document
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, NO_PARENT, auth, insert_conversation, snapshot
from tests.utils.trees import check_copy, insert_tree

FORK = """
mutation Fork($input: ForkConversationInput!) {
  forkConversation(input: $input) {
    conversation { conversationId title tagNames messages { text } }
    messages { messageId parentMessageId conversationId text createdAt
               children { text } }
  }
}"""

DUPLICATE = """
mutation Duplicate($id: String!, $title: String) {
  duplicateConversation(conversationId: $id, title: $title) {
    conversation { conversationId title }
    messages { text parentMessageId }
  }
}"""


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri, fork_user_max=10_000, fork_ip_max=10_000)


@pytest.fixture
async def source(database: Database) -> tuple[Document, dict[str, Document]]:
    conversation = await insert_conversation(database, ALICE, title="Plan", tags=["work"])
    return conversation, await insert_tree(database, ALICE, conversation["conversationId"])


async def _gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], user: str = ALICE
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=auth(user)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_fork_conversation_mutation_returns_the_copy_and_linked_messages(
    client: httpx.AsyncClient, source: tuple[Document, dict[str, Document]]
) -> None:
    conversation, tree = source
    body = await _gql(
        client,
        FORK,
        {
            "input": {
                "conversationId": conversation["conversationId"],
                "messageId": tree["C1"]["messageId"],
                "option": "INCLUDE_BRANCHES",
            }
        },
    )
    payload = body["data"]["forkConversation"]
    new_id = payload["conversation"]["conversationId"]
    messages = [
        {**m, "user": ALICE, "unfinished": False, "error": False} for m in payload["messages"]
    ]
    check_copy(
        messages,
        tree,
        conversation_id=new_id,
        user=ALICE,
        expected={"R", "A1", "A2", "B1", "B2", "C1"},
        roots={"R"},
    )
    assert payload["conversation"]["title"] == "Plan (Fork)"
    assert payload["conversation"]["tagNames"] == ["work"]
    # The payload's messages and the conversation's (loaded from the database) agree.
    assert sorted(m["text"] for m in payload["conversation"]["messages"]) == sorted(
        m["text"] for m in payload["messages"]
    )
    root = next(m for m in payload["messages"] if m["text"] == "R")
    assert root["parentMessageId"] == NO_PARENT
    assert root["children"] == [{"text": "A1"}, {"text": "A2"}]


async def test_fork_conversation_defaults_to_target_level_and_splits(
    client: httpx.AsyncClient, source: tuple[Document, dict[str, Document]]
) -> None:
    conversation, tree = source
    cid = conversation["conversationId"]
    default = await _gql(
        client, FORK, {"input": {"conversationId": cid, "messageId": tree["A1"]["messageId"]}}
    )
    assert {m["text"] for m in default["data"]["forkConversation"]["messages"]} == {
        "R",
        "R2",
        "A1",
        "A2",
        "A3",
    }
    split = await _gql(
        client,
        FORK,
        {
            "input": {
                "conversationId": cid,
                "messageId": tree["B1"]["messageId"],
                "option": "DIRECT_PATH",
                "splitAtTarget": True,
                "latestMessageId": tree["D1"]["messageId"],
            }
        },
    )
    assert [m["text"] for m in split["data"]["forkConversation"]["messages"]] == ["B1", "C1", "D1"]


async def test_fork_conversation_errors_carry_codes_and_write_nothing(
    client: httpx.AsyncClient,
    database: Database,
    source: tuple[Document, dict[str, Document]],
) -> None:
    conversation, tree = source
    cid = conversation["conversationId"]
    before = await snapshot(database)
    cases = [
        ({"conversationId": cid, "messageId": "nope"}, ALICE, "NOT_FOUND", "Message not found"),
        (
            {"conversationId": "nope", "messageId": "x"},
            ALICE,
            "NOT_FOUND",
            "Conversation not found",
        ),
        (
            {"conversationId": cid, "messageId": tree["A1"]["messageId"]},
            BOB,
            "FORBIDDEN",
            "You don't have access to this conversation",
        ),
        (
            {"conversationId": cid, "messageId": tree["A1"]["messageId"], "splitAtTarget": True},
            ALICE,
            "BAD_USER_INPUT",
            "latestMessageId is required",
        ),
    ]
    for variables, user, code, message in cases:
        body = await _gql(client, FORK, {"input": variables}, user)
        assert body["data"] is None
        assert body["errors"][0]["message"] == message
        assert body["errors"][0]["extensions"]["code"] == code
    # The aliases are REST's; the GraphQL enum has the three names only.
    body = await _gql(
        client, FORK, {"input": {"conversationId": cid, "messageId": "x", "option": "target"}}
    )
    assert "errors" in body and body.get("data") is None
    assert await snapshot(database) == before


async def test_duplicate_conversation_mutation(
    client: httpx.AsyncClient,
    database: Database,
    source: tuple[Document, dict[str, Document]],
) -> None:
    conversation, tree = source
    cid = conversation["conversationId"]
    named = await _gql(client, DUPLICATE, {"id": cid, "title": "Copy"})
    payload = named["data"]["duplicateConversation"]
    assert payload["conversation"]["title"] == "Copy"
    assert len(payload["messages"]) == len(tree)
    untitled = await _gql(client, DUPLICATE, {"id": cid})
    assert untitled["data"]["duplicateConversation"]["conversation"]["title"] == "Plan"
    before = await snapshot(database)
    missing = await _gql(client, DUPLICATE, {"id": ""})
    assert missing["errors"][0]["message"] == "conversationId is required"
    assert await snapshot(database) == before
