"""GraphQL's ``Conversation.searchMatches``: where a search matched, so a
client can jump to the message (issue 10, item 6).

The index path and the scan path answer the same; a message deleted behind
a stale index is never a match.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from resolvers.adapters.services import Services
from resolvers.operations.search_matches import search_matches, snippet
from storage.database import Database, Document
from storage.search_index import SearchIndex
from tests.utils.factories import ALICE, BASE_TIME, BOB, insert_conversation, message_doc
from tests.utils.http import gql

LONG = "word " * 30

SEARCH = """
query Search($search: String!, $first: Int) {
  conversations(search: $search) {
    edges { node { title searchMatches(first: $first) { messageId snippet } } }
  }
}
"""


async def _thread(database: Database, title: str, texts: list[Any]) -> list[Document]:
    conversation = await insert_conversation(database, ALICE, title=title)
    docs = []
    for i, text in enumerate(texts):
        fields: dict[str, Any] = {"_id": ObjectId()}
        if isinstance(text, list):
            fields["content"] = [{"type": "text", "text": t} for t in text]
            text = ""
        docs.append(
            message_doc(
                ALICE,
                conversation["conversationId"],
                text=text,
                created_at=BASE_TIME + timedelta(minutes=i),
                **fields,
            )
        )
    await database.messages.insert_many([dict(d) for d in docs])
    return docs


async def test_a_search_lists_each_conversations_matching_messages_oldest_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _thread(
        database,
        "trip",
        ["nothing here", f"{LONG}the Koala  slept\n\nall day {LONG}", ["part", "a KOALA"], "koala"],
    )
    await _thread(database, "other", ["no marsupials"])

    body = await gql(client, SEARCH, {"search": "koala", "first": 2}, user=ALICE)

    assert "errors" not in body, body
    (edge,) = body["data"]["conversations"]["edges"]
    matches = edge["node"]["searchMatches"]
    assert [m["messageId"] for m in matches] == [docs[1]["messageId"], docs[2]["messageId"]]
    long_hit, content_hit = (m["snippet"] for m in matches)
    assert long_hit.startswith("\u2026") and long_hit.endswith("\u2026")
    assert "the Koala slept all day" in long_hit  # whitespace folded
    assert len(long_hit) <= 2 * 40 + len("koala") + 2
    assert content_hit == "a KOALA"


async def test_a_conversation_read_alone_takes_the_term_as_an_argument(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _thread(database, "notes", ["buy Wombat food", "wombat!"])
    query = """
    query One($id: String!) {
      conversation(conversationId: $id) { searchMatches(text: "WOMBAT") { messageId snippet } }
    }"""

    body = await gql(client, query, {"id": docs[0]["conversationId"]}, user=ALICE)

    assert body["data"]["conversation"]["searchMatches"] == [
        {"messageId": docs[0]["messageId"], "snippet": "buy Wombat food"},
        {"messageId": docs[1]["messageId"], "snippet": "wombat!"},
    ]


@pytest.mark.parametrize(
    ("first", "text", "message"),
    [
        (0, "x", "first must be between 1 and 20"),
        (21, "x", "first must be between 1 and 20"),
        (3, None, "searchMatches needs text"),
        (3, "   ", "searchMatches needs text"),
    ],
)
async def test_a_bad_request_is_bad_user_input(
    client: httpx.AsyncClient, database: Database, first: int, text: str | None, message: str
) -> None:
    docs = await _thread(database, "t", ["hello"])
    query = """
    query One($id: String!, $first: Int, $text: String) {
      conversation(conversationId: $id) { searchMatches(first: $first, text: $text) { snippet } }
    }"""

    variables = {"id": docs[0]["conversationId"], "first": first, "text": text}
    body = await gql(client, query, variables, user=ALICE)

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]


async def test_the_index_and_the_scan_find_the_same_matches_and_never_a_deleted_one(
    database: Database, index: SearchIndex
) -> None:
    first = await _thread(database, "a", ["Emu one", "nothing", ["emu in content"], "EMU three"])
    second = await _thread(database, "b", ["no", "an emu"])
    await database.messages.insert_one(
        message_doc(BOB, first[0]["conversationId"], text="bob's emu", _id=ObjectId())
    )
    await index.rebuild(database)
    ids = [first[0]["conversationId"], second[0]["conversationId"]]
    scan = Services(database=database)
    indexed = Services(database=database, search_index=index)

    by_index = await search_matches(indexed, ALICE, "emu", ids, 5)
    assert by_index == await search_matches(scan, ALICE, "emu", ids, 5)
    assert [m.message_id for m in by_index[ids[0]]] == [
        first[0]["messageId"],
        first[2]["messageId"],
        first[3]["messageId"],
    ]

    await database.messages.delete_one({"_id": first[2]["_id"]})  # the index does not see it

    after = await search_matches(indexed, ALICE, "emu", ids, 5)
    assert [m.message_id for m in after[ids[0]]] == [first[0]["messageId"], first[3]["messageId"]]
    assert after == await search_matches(scan, ALICE, "emu", ids, 5)


def test_a_snippet_marks_only_the_sides_where_text_was_cut() -> None:
    value = "a" * 50 + "HIT" + "b" * 10
    cut = snippet(value, 50, 53)
    assert cut == "\u2026" + "a" * 40 + "HIT" + "b" * 10
    assert snippet("short HIT", 6, 9) == "short HIT"
