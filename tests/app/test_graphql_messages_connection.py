"""Conversation.messagesConnection: a long conversation read page by page,
oldest first, costed by ``first`` (docs/graphql.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from graphql import TypeInfo, ValidationContext, parse

from app.graphql.schema import limits_from
from app.graphql_limits import measure_document
from app.settings import Settings
from resolvers.graphql.schema import build_schema
from storage.database import Database, Document
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BASE_TIME, BOB, insert_conversation, message_doc
from tests.utils.http import error_codes, gql

PAGE = """
query Page($id: String!, $first: Int, $after: String) {
  conversation(conversationId: $id) {
    messagesConnection(first: $first, after: $after) {
      totalCount
      edges { cursor node { messageId parentMessageId children { messageId } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""
SCHEMA = build_schema()._schema


@pytest.fixture(params=[True, False], ids=["fast-path", "normal-path"])
def settings(request: pytest.FixtureRequest, mongo_uri: str) -> Settings:
    """The same pages with GRAPHQL_FAST_PATH on and off."""
    return make_settings(mongo_uri, graphql_fast_path=request.param)


async def _long_conversation(database: Database, n: int) -> tuple[str, list[Document]]:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    docs: list[Document] = []
    parent = "00000000-0000-0000-0000-000000000000"
    for i in range(n):
        # Pairs share a creation time: the id breaks the tie.
        doc = message_doc(
            ALICE, cid, parent=parent, created_at=BASE_TIME + timedelta(seconds=i // 2)
        )
        docs.append(doc)
        parent = doc["messageId"]
    await database.messages.insert_many(docs)
    return cid, sorted(docs, key=lambda d: (d["createdAt"], d["_id"]))


async def _connection(
    client: httpx.AsyncClient, variables: dict[str, Any], user: str = ALICE
) -> dict[str, Any]:
    body = await gql(client, PAGE, variables, user=user)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["conversation"]["messagesConnection"]
    return result


async def test_a_conversation_over_the_messages_cap_is_read_page_by_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, docs = await _long_conversation(database, 2050)  # over the default cap of 2000
    whole = await gql(
        client,
        "query($id: String!) { conversation(conversationId: $id) { messages { text } } }",
        {"id": cid},
        user=ALICE,
    )
    assert error_codes(whole) == ["TOO_MANY_MESSAGES"]
    seen: list[str] = []
    variables: dict[str, Any] = {"id": cid, "first": 200}
    pages = 0
    while True:
        page = await _connection(client, variables)
        pages += 1
        assert page["totalCount"] == 2050
        assert page["pageInfo"]["hasPreviousPage"] == (pages > 1)
        seen += [e["node"]["messageId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        variables["after"] = page["pageInfo"]["endCursor"]
    assert pages == 11
    assert seen == [d["messageId"] for d in docs]


async def test_first_defaults_to_50_and_children_link_within_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, docs = await _long_conversation(database, 60)
    page = await _connection(client, {"id": cid})
    edges = page["edges"]
    assert len(edges) == 50 and page["pageInfo"]["hasNextPage"] is True
    assert edges[0]["node"]["children"] == [{"messageId": docs[1]["messageId"]}]
    # The last message's reply is on the next page: linked by parentMessageId only.
    assert edges[-1]["node"]["children"] == []
    rest = await _connection(client, {"id": cid, "after": page["pageInfo"]["endCursor"]})
    assert rest["edges"][0]["node"]["parentMessageId"] == edges[-1]["node"]["messageId"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_first_above_200_is_served_as_200(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, _ = await _long_conversation(database, 210)
    page = await _connection(client, {"id": cid, "first": 5000})
    assert len(page["edges"]) == 200


async def test_bad_first_or_after_is_bad_user_input(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, _ = await _long_conversation(database, 3)
    for variables in ({"id": cid, "first": 0}, {"id": cid, "after": "garbage!"}):
        body = await gql(client, PAGE, variables, user=ALICE)
        assert error_codes(body) == ["BAD_USER_INPUT"], variables


async def test_another_users_conversation_pages_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    cid, _ = await _long_conversation(database, 3)
    body = await gql(client, PAGE, {"id": cid}, user=BOB)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None


def _cost(query: str) -> int:
    document = parse(query)
    context = ValidationContext(SCHEMA, document, TypeInfo(SCHEMA), lambda error: None)
    [(_, measure)] = measure_document(context, limits_from(Settings()))
    return measure.cost


def test_messages_connection_is_costed_by_first_up_to_200() -> None:
    def paged(first: str) -> int:
        return _cost(
            '{ conversation(conversationId: "c") { messagesConnection'
            + first
            + " { edges { node { text } } } } }"
        )

    # conversation + connection + edges, then first * (node + text)
    assert paged("(first: 10)") == 3 + 10 * 2
    assert paged("") == paged("(first: 50)")
    # Above GRAPHQL_MAX_LIST_SIZE (100) but within its own maximum: counted in full.
    assert paged("(first: 200)") == 3 + 200 * 2
    assert paged("(first: 5000)") == paged("(first: 200)")
    whole = _cost('{ conversation(conversationId: "c") { messages { text } } }')
    assert whole == 1 + 1 + Settings().max_messages_per_conversation


def test_a_variable_first_is_costed_at_the_connections_maximum() -> None:
    cost = _cost(
        'query($n: Int) { conversation(conversationId: "c") '
        "{ messagesConnection(first: $n) { edges { node { text } } } } }"
    )
    assert cost == 3 + 200 * 2
