"""GraphQL ``conversations(createdAfter:, ...)``: the REST date filters as DateTime
arguments (docs/contract.md#convos-list-dates), paged, isolated, bad input refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from storage.database import Database, Document
from tests.utils.factories import ALICE, BASE_TIME, BOB, conversation_doc
from tests.utils.http import error_codes, gql

DAY = timedelta(days=1)
PAGE = """
query Page($after: String, $from: DateTime, $to: DateTime, $sortBy: ConversationSort!) {
  conversations(first: 2, after: $after, createdAfter: $from, updatedBefore: $to,
                sortBy: $sortBy, sortDirection: ASC) {
    totalCount
    edges { node { conversationId } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _seed(database: Database, user: str = ALICE) -> list[Document]:
    docs = [
        conversation_doc(
            user,
            title=f"T{i % 2}",
            createdAt=BASE_TIME + i * DAY,
            updatedAt=BASE_TIME + (10 - i) * DAY,
        )
        for i in range(7)
    ]
    await database.conversations.insert_many(docs)
    return docs


@pytest.mark.parametrize("sort_by", ["UPDATED_AT", "CREATED_AT", "TITLE", "ARCHIVED_AT"])
async def test_date_arguments_filter_and_page_with_every_sort(
    client: httpx.AsyncClient, database: Database, sort_by: str
) -> None:
    docs = await _seed(database)
    await _seed(database, user=BOB)
    variables: dict[str, Any] = {
        "from": "2024-01-16T10:00:00.000Z",  # day 1, included
        "to": "2024-01-24T10:00:00Z",  # updated on day 9 (i = 1) excluded
        "sortBy": sort_by,
    }
    seen: list[str] = []
    for _ in range(10):
        body = await gql(client, PAGE, variables, user=ALICE)
        assert "errors" not in body, body
        page = body["data"]["conversations"]
        assert page["totalCount"] == 5
        seen += [e["node"]["conversationId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        variables["after"] = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(d["conversationId"] for d in docs[2:])
    assert len(seen) == len(set(seen))


async def test_a_bad_datetime_literal_is_bad_user_input(client: httpx.AsyncClient) -> None:
    body = await gql(
        client, '{ conversations(createdAfter: "yesterday") { totalCount } }', user=ALICE
    )
    assert body.get("data") is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "ISO-8601" in body["errors"][0]["message"]


@pytest.mark.parametrize("value", ["2024-02-30", 20240115, "", True])
async def test_a_bad_datetime_variable_is_bad_user_input(
    client: httpx.AsyncClient, value: object
) -> None:
    body = await gql(
        client,
        "query($d: DateTime) { conversations(updatedBefore: $d) { totalCount } }",
        {"d": value},
        user=ALICE,
    )
    assert body.get("data") is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
