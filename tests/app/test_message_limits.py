"""Lists without a page size are costed, and read, only up to what they may hold.

A conversation's ``messages`` counts as GRAPHQL_MAX_MESSAGES_PER_CONVERSATION
in the cost limit, and the loader never reads more than that for one
conversation: one holding more answers TOO_MANY_MESSAGES. So a page of
conversations with their messages is refused before any database command,
instead of reading (and answering) every message of a hundred conversations.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from graphql import parse, validate

from app.graphql.schema import limits_from
from app.graphql_limits import create_limits_rule
from app.settings import Settings
from resolvers.graphql.schema import build_schema
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.commands import CommandLog, monitored_app
from tests.utils.factories import ALICE, auth, insert_conversation, insert_thread
from tests.utils.graphql import client_for

# The query: over conversations of 20,000 messages it answered 14-24 MB.
HEAVY = """query Heavy { conversations(first: 100) { edges { node {
  messages { messageId text content createdAt } } } } }"""

ONE = """query One($id: String!) { conversation(conversationId: $id) {
  title messages { messageId text sender parentMessageId createdAt children { messageId } }
} }"""


async def _post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=auth(ALICE)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_page_of_conversations_with_messages_is_refused_before_any_database_command(
    settings: Settings, mongo_uri: str, db_name: str, database: Database
) -> None:
    for i in range(3):
        doc = await insert_conversation(database, ALICE, title=f"c{i}")
        await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    log = CommandLog()
    async with monitored_app(settings, mongo_uri, db_name, log) as (_, client):
        log.take()  # start-up (indexes) is not the request's
        body = await _post(client, HEAVY)
        commands = log.take()
    assert "data" not in body
    [error] = body["errors"]
    # 1 + (1 + 100 x (1 + (1 + 2,000 messages x 4 fields)))
    cost = 2 + 100 * (2 + 2000 * 4)
    assert error["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 250_000}
    assert f"estimated cost of {cost}, above the limit of 250000" in error["message"]
    assert "messages count as 2000" in error["message"]
    assert commands == []


async def test_one_conversation_with_its_messages_and_their_children_passes(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="t")
    thread = await insert_thread(database, ALICE, doc["conversationId"], ["q", "a", "q2"])
    body = await _post(client, ONE, id=doc["conversationId"])
    assert "errors" not in body, body
    messages = body["data"]["conversation"]["messages"]
    assert [m["messageId"] for m in messages] == [m["messageId"] for m in thread]
    assert messages[0]["children"] == [{"messageId": thread[1]["messageId"]}]


async def test_a_conversation_over_the_message_cap_answers_too_many_messages(
    mongo_uri: str, database: Database
) -> None:
    at_cap = await insert_conversation(database, ALICE, title="at cap")
    await insert_thread(database, ALICE, at_cap["conversationId"], ["m"] * 5)
    over = await insert_conversation(database, ALICE, title="over")
    await insert_thread(database, ALICE, over["conversationId"], ["m"] * 6)
    async with client_for(
        make_settings(mongo_uri, max_messages_per_conversation=5), database
    ) as client:
        ok = await _post(client, ONE, id=at_cap["conversationId"])
        refused = await _post(client, ONE, id=over["conversationId"])
        page = await _post(
            client, "{ conversations(first: 2) { edges { node { title messages { text } } } } }"
        )
    assert "errors" not in ok and len(ok["data"]["conversation"]["messages"]) == 5
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "TOO_MANY_MESSAGES"}
    assert error["message"] == (
        f"Conversation {over['conversationId']} has more than 5 messages, more than one "
        "response may carry (GRAPHQL_MAX_MESSAGES_PER_CONVERSATION); page its messages."
    )
    assert [e["extensions"]["code"] for e in page["errors"]] == ["TOO_MANY_MESSAGES"]


async def test_reading_a_conversation_over_the_cap_stops_at_the_cap(
    mongo_uri: str, db_name: str, database: Database
) -> None:
    over = await insert_conversation(database, ALICE, title="over")
    await insert_thread(database, ALICE, over["conversationId"], ["m"] * 40)
    log = CommandLog()
    settings = make_settings(mongo_uri, max_messages_per_conversation=5)
    async with monitored_app(settings, mongo_uri, db_name, log) as (_, client):
        log.take()
        body = await _post(client, ONE, id=over["conversationId"])
        commands = log.take()
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_MESSAGES"
    [message_find] = [c for name, c in commands if name == "find" and c["find"] == "messages"]
    assert message_find["limit"] == 6  # the cap plus one: enough to know it is over


async def test_a_conversations_tags_are_at_most_what_a_conversation_may_carry(
    client: httpx.AsyncClient, database: Database
) -> None:
    # Written by another client: more tags than the gateway lets one conversation have.
    await insert_conversation(database, ALICE, tags=[f"t{i}" for i in range(300)])
    body = await _post(client, "{ conversations(first: 1) { edges { node { tagNames } } } }")
    assert len(body["data"]["conversations"]["edges"][0]["node"]["tagNames"]) == 256


def test_the_readme_example_page_fits_the_default_cost_limit() -> None:
    # The first query a newcomer copies must not be refused by our own limit.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [query] = re.findall(r"```graphql\n(query Recent .*?)```", readme, flags=re.S)
    rule = create_limits_rule(limits_from(Settings()))
    errors = validate(build_schema([])._schema, parse(query), [rule])
    assert errors == []
