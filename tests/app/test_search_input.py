"""Search text is a bounded literal over REST and GraphQL: never a pattern, never a 5xx.

The database sees the escaped form of what the user typed; escaping can double
it (``.`` becomes ``\\.``), so the limit on what the user types is what keeps
the escaped pattern under the database's regex length cap.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from resolvers.operations.validation import MAX_SEARCH_LENGTH
from storage.database import Database
from tests.utils.factories import ALICE, auth, insert_conversation, message_doc, snapshot
from tests.utils.http import error_codes, gql

SEARCH_QUERY = """query($search: String) {
  conversations(search: $search) { edges { node { conversationId } } }
}"""

# Every character regex-special, so the escaped form is twice as long.
SPECIAL = ".^$*+?{}[]\\|()"


def _special(n: int) -> str:
    return (SPECIAL * (n // len(SPECIAL) + 1))[:n]


TOO_LONG = [
    "." * 512,
    "(" * 600,
    _special(MAX_SEARCH_LENGTH + 1),
    # Astral and combining characters: one code point each, several UTF-8 bytes.
    ("\U0001f600.\u00e9(" * 200)[: MAX_SEARCH_LENGTH + 1],
]


async def _rest(client: httpx.AsyncClient, search: str) -> httpx.Response:
    return await client.get("/api/convos", params={"search": search}, headers=auth(ALICE))


async def _graphql(client: httpx.AsyncClient, search: str) -> dict[str, Any]:
    return await gql(client, SEARCH_QUERY, {"search": search}, user=ALICE)


@pytest.mark.parametrize("search", TOO_LONG, ids=["dots-512", "parens-600", "mixed", "unicode"])
async def test_a_search_too_long_for_the_database_is_400_over_rest(
    client: httpx.AsyncClient, database: Database, search: str
) -> None:
    await insert_conversation(database, ALICE, title="x")
    before = await snapshot(database)
    response = await _rest(client, search)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": f"search must be at most {MAX_SEARCH_LENGTH} characters"}
    assert await snapshot(database) == before


@pytest.mark.parametrize("search", TOO_LONG, ids=["dots-512", "parens-600", "mixed", "unicode"])
async def test_a_search_too_long_for_the_database_is_bad_user_input_over_graphql(
    client: httpx.AsyncClient, database: Database, search: str
) -> None:
    await insert_conversation(database, ALICE, title="x")
    body = await _graphql(client, search)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == (
        f"search must be at most {MAX_SEARCH_LENGTH} characters"
    )


async def test_the_longest_all_special_search_matches_literally_over_rest_and_graphql(
    client: httpx.AsyncClient, database: Database
) -> None:
    """At the limit, the worst case for escaping still reaches the database and matches."""
    needle = _special(MAX_SEARCH_LENGTH)
    hit = await insert_conversation(database, ALICE, title=f"before {needle} after")
    await insert_conversation(database, ALICE, title="." * 600)
    response = await _rest(client, needle)
    assert response.status_code == 200, response.text
    assert [c["conversationId"] for c in response.json()["conversations"]] == [
        hit["conversationId"]
    ]
    body = await _graphql(client, needle)
    assert "errors" not in body, body
    edges = body["data"]["conversations"]["edges"]
    assert [e["node"]["conversationId"] for e in edges] == [hit["conversationId"]]


async def test_a_long_unicode_search_matches_case_insensitively_in_message_text(
    client: httpx.AsyncClient, database: Database
) -> None:
    needle = ("\U0001f600 \u00c9t\u00c9 (a+)+$ " * 100)[:MAX_SEARCH_LENGTH]
    doc = await insert_conversation(database, ALICE, title="t")
    await database.messages.insert_one(
        message_doc(ALICE, doc["conversationId"], text="x" + needle.lower() + "y")
    )
    response = await _rest(client, needle)
    assert response.status_code == 200, response.text
    assert [c["conversationId"] for c in response.json()["conversations"]] == [
        doc["conversationId"]
    ]
