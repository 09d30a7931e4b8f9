"""A GraphQL page costs a fixed number of database commands, whatever its size.

A page of conversations with ``totalCount``, messages and tags is four
commands: the page, the count, every message of the page, every tag of the
page. The loaders batch per request; the finds ask for their whole result in
the first batch, so no ``getMore`` round trip appears as pages grow.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pymongo import monitoring
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from storage.database import Database, connect
from tests.conftest import make_settings
from tests.utils.commands import is_background
from tests.utils.factories import ALICE, BASE_TIME, auth, conversation_doc, message_doc

N_CONVERSATIONS = 110
MESSAGES_PER_CONVERSATION = 3
TAG_NAMES = [f"tag-{i}" for i in range(12)]

PAGE_QUERY = """
query Page($first: Int!) {
  conversations(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      conversationId title updatedAt
      tags { tag count position }
      messages { messageId text sender parentMessageId children { messageId } }
    } }
  }
}
"""


class CommandLog(monitoring.CommandListener):
    """Names of the commands the client started, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if is_background(event):
            return
        with self._lock:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[str]:
        with self._lock:
            names, self.names = self.names, []
        return names


async def _seed(database: Database) -> None:
    conversations = []
    messages = []
    for i in range(N_CONVERSATIONS):
        at = BASE_TIME + timedelta(minutes=i)
        tags = [TAG_NAMES[i % len(TAG_NAMES)], TAG_NAMES[(i + 5) % len(TAG_NAMES)]]
        doc = conversation_doc(ALICE, title=f"Chat {i}", tags=tags, createdAt=at, updatedAt=at)
        conversations.append(doc)
        parent = "00000000-0000-0000-0000-000000000000"
        for j in range(MESSAGES_PER_CONVERSATION):
            message = message_doc(
                ALICE,
                doc["conversationId"],
                parent=parent,
                text=f"m{j}",
                created_at=at + timedelta(seconds=j),
                isCreatedByUser=j % 2 == 0,
            )
            messages.append(message)
            parent = message["messageId"]
    await database.conversations.insert_many(conversations)
    await database.messages.insert_many(messages)
    await database.tags.insert_many(
        [
            {
                "tag": name,
                "user": ALICE,
                "count": 0,
                "position": p,
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
            }
            for p, name in enumerate(TAG_NAMES)
        ]
    )


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    # This module counts database commands for pages of up to 100 conversations
    # with their messages and tags; the cost limit (tests/app/test_graphql_limits.py)
    # would refuse such pages at the default bounds. No change feed: its
    # background reads (change stream, index build) are not the requests' commands.
    return make_settings(
        mongo_uri,
        max_messages_per_conversation=MESSAGES_PER_CONVERSATION,
        max_query_cost=10**6,
        change_feed="off",
    )


@pytest.fixture
def command_log() -> CommandLog:
    return CommandLog()


@pytest.fixture
async def counted_client(
    settings: Settings,
    database: Database,
    mongo_uri: str,
    db_name: str,
    command_log: CommandLog,
) -> AsyncIterator[httpx.AsyncClient]:
    await _seed(database)
    # The app gets its own client on the same database, with the listener.
    counted = connect(mongo_uri, db_name=db_name, event_listeners=[command_log])
    app: Starlette = create_app(settings, database=counted)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
    finally:
        await counted.close()


async def _page(client: httpx.AsyncClient, first: int) -> dict[str, object]:
    response = await client.post(
        "/graphql",
        json={"query": PAGE_QUERY, "variables": {"first": first}},
        headers=auth(ALICE),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    page: dict[str, object] = body["data"]["conversations"]
    return page


@pytest.mark.parametrize("first", [25, 100])
async def test_page_with_count_messages_and_tags_costs_four_commands(
    counted_client: httpx.AsyncClient, command_log: CommandLog, first: int
) -> None:
    command_log.take()  # start-up work (indexes) is not the request's
    page = await _page(counted_client, first)
    commands = command_log.take()
    print(f"first={first}: {len(commands)} commands: {commands}")

    edges = page["edges"]
    assert isinstance(edges, list) and len(edges) == first
    assert page["totalCount"] == N_CONVERSATIONS
    for edge in edges:
        node = edge["node"]
        assert len(node["messages"]) == MESSAGES_PER_CONVERSATION
        assert [len(m["children"]) for m in node["messages"]] == [1, 1, 0]
        assert len(node["tags"]) == 2
    # page (find), totalCount (aggregate), messages (find), tags (find).
    assert sorted(commands) == ["aggregate", "find", "find", "find"]


async def test_page_without_count_skips_the_count_command(
    counted_client: httpx.AsyncClient, command_log: CommandLog
) -> None:
    command_log.take()
    response = await counted_client.post(
        "/graphql",
        json={"query": "{ conversations(first: 100) { edges { node { title } } } }"},
        headers=auth(ALICE),
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["conversations"]["edges"]) == 100
    assert command_log.take() == ["find"]


FRAGMENT_QUERY = """
query Page {
  conversations(first: 30) {
    ... on ConversationConnection { totalCount }
    edges { node { ...Card } }
  }
}
fragment Card on Conversation { title ...Extras }
fragment Extras on Conversation { tags { tag } messages { text } }
"""


async def test_fragments_are_seen_and_still_cost_four_commands(
    counted_client: httpx.AsyncClient, command_log: CommandLog
) -> None:
    command_log.take()
    response = await counted_client.post(
        "/graphql", json={"query": FRAGMENT_QUERY}, headers=auth(ALICE)
    )
    assert response.status_code == 200, response.text
    page = response.json()["data"]["conversations"]
    assert page["totalCount"] == N_CONVERSATIONS
    assert all(
        len(e["node"]["tags"]) == 2
        and [m["text"] for m in e["node"]["messages"]] == ["m0", "m1", "m2"]
        for e in page["edges"]
    )
    assert sorted(command_log.take()) == ["aggregate", "find", "find", "find"]


async def test_one_conversation_loads_its_messages_and_tags_on_demand(
    counted_client: httpx.AsyncClient, command_log: CommandLog, database: Database
) -> None:
    doc = await database.conversations.find_one({"user": ALICE, "title": "Chat 7"})
    assert doc is not None
    command_log.take()
    response = await counted_client.post(
        "/graphql",
        json={
            "query": "query C($id: String!) { conversation(conversationId: $id) {"
            " title tags { tag } messages { text children { text } } } }",
            "variables": {"id": doc["conversationId"]},
        },
        headers=auth(ALICE),
    )
    assert response.status_code == 200, response.text
    node = response.json()["data"]["conversation"]
    assert [t["tag"] for t in node["tags"]] == doc["tags"]
    assert [m["text"] for m in node["messages"]] == ["m0", "m1", "m2"]
    assert node["messages"][0]["children"] == [{"text": "m1"}]
    # The conversation, then its messages and its tags (one query each).
    assert sorted(command_log.take()) == ["find", "find", "find"]
