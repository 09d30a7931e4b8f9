"""GET /api/messages/:conversationId and GET /api/messages?conversationId=
(docs/contract.md#messages): LibreChat's shapes and order, cursors that never
repeat or skip, ownership, bad input."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from storage.database import Database, Document
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    NO_PARENT,
    auth,
    insert_conversation,
    insert_thread,
    message_doc,
)


async def _tied(database: Database, user: str, cid: str, n: int) -> list[Document]:
    """``n`` messages whose times repeat in threes and endpoints alternate."""
    docs = [
        message_doc(
            user,
            cid,
            text=f"m{i}",
            created_at=BASE_TIME + timedelta(seconds=i // 3),
            endpoint="openAI" if i % 2 else "anthropic",
        )
        for i in range(n)
    ]
    for i, doc in enumerate(docs):
        doc["updatedAt"] = BASE_TIME + timedelta(seconds=(n - i) // 3)
    await database.messages.insert_many(docs)
    return docs


async def _page(client: httpx.AsyncClient, user: str = ALICE, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/messages", params=params, headers=auth(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- GET /api/messages/:conversationId ------------------------------------------


async def test_messages_of_a_conversation_come_oldest_first_in_librechats_shape(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    thread = await insert_thread(database, ALICE, cid, ["hi", "hello", "how?"])
    await database.messages.update_one(
        {"messageId": thread[1]["messageId"]},
        {"$set": {"content": [{"type": "text", "text": "hello"}], "contextMeta": {"x": 1}}},
    )
    await insert_thread(database, BOB, cid, ["same id, another user"])
    response = await client.get(f"/api/messages/{cid}", headers=auth(ALICE))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [m["messageId"] for m in body] == [m["messageId"] for m in thread]
    first = body[0]
    assert first == {
        "messageId": thread[0]["messageId"],
        "conversationId": cid,
        "parentMessageId": NO_PARENT,
        "sender": "user",
        "text": "hi",
        "isCreatedByUser": True,
        "error": False,
        "unfinished": False,
        "createdAt": "2024-01-15T10:00:00.000Z",
        "updatedAt": "2024-01-15T10:00:00.000Z",
    }
    assert body[1]["content"] == [{"type": "text", "text": "hello"}]
    assert "contextMeta" not in body[1]


async def test_a_long_conversation_is_sent_whole_in_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    docs = [
        message_doc(ALICE, cid, text="x" * 200, created_at=BASE_TIME + timedelta(seconds=i))
        for i in range(1300)
    ]
    await database.messages.insert_many(docs)
    response = await client.get(f"/api/messages/{cid}", headers=auth(ALICE))
    assert [m["messageId"] for m in response.json()] == [d["messageId"] for d in docs]


async def test_a_conversation_without_messages_is_an_empty_array(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    response = await client.get(f"/api/messages/{convo['conversationId']}", headers=auth(ALICE))
    assert (response.status_code, response.json()) == (200, [])


async def test_messages_of_another_users_conversation_are_403_and_unknown_is_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    bobs = await insert_conversation(database, BOB)
    await insert_thread(database, BOB, bobs["conversationId"], ["secret"])
    forbidden = await client.get(f"/api/messages/{bobs['conversationId']}", headers=auth(ALICE))
    assert forbidden.status_code == 403
    assert "secret" not in forbidden.text
    assert forbidden.json()["error"] == "Unauthorized"
    missing = await client.get("/api/messages/no-such-conversation", headers=auth(ALICE))
    assert (missing.status_code, missing.json()) == (404, {"error": "Conversation not found"})
    too_long = await client.get("/api/messages/" + "a" * 201, headers=auth(ALICE))
    assert too_long.status_code == 400


async def test_messages_need_a_token(client: httpx.AsyncClient, database: Database) -> None:
    convo = await insert_conversation(database, ALICE)
    response = await client.get(f"/api/messages/{convo['conversationId']}")
    assert response.status_code == 401


# --- GET /api/messages?conversationId= -----------------------------------------------


async def test_cursor_page_defaults_to_25_by_updated_at_descending(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    docs = await _tied(database, ALICE, convo["conversationId"], 30)
    body = await _page(client, conversationId=convo["conversationId"])
    assert set(body) == {"messages", "nextCursor"}
    expected = sorted(docs, key=lambda d: (d["updatedAt"], d["_id"]), reverse=True)[:25]
    assert [m["messageId"] for m in body["messages"]] == [d["messageId"] for d in expected]
    assert isinstance(body["nextCursor"], str)
    assert body["messages"][0]["user"] == ALICE and "_id" in body["messages"][0]


@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt", "endpoint"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_cursor_pages_walk_ties_without_repeats_or_gaps(
    client: httpx.AsyncClient, database: Database, sort_by: str, direction: str
) -> None:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    docs = await _tied(database, ALICE, cid, 23)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"conversationId": cid, "pageSize": 4, "sortBy": sort_by}
        params["sortDirection"] = direction
        if cursor:
            params["cursor"] = cursor
        body = await _page(client, **params)
        seen += [m["messageId"] for m in body["messages"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    expected = sorted(docs, key=lambda d: (d[sort_by], d["_id"]), reverse=direction == "desc")
    assert seen == [d["messageId"] for d in expected]


async def test_librechats_own_cursor_continues_after_that_time(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    docs = await _tied(database, ALICE, cid, 9)
    later = [d["messageId"] for d in docs[3:]]  # created after 10:00:00
    # String(date) in Node, and an ISO date: both position after 10:00:00.
    for cursor in (
        "Mon Jan 15 2024 10:00:00 GMT+0000 (Coordinated Universal Time)",
        "2024-01-15T10:00:00.000Z",
    ):
        body = await _page(
            client, conversationId=cid, cursor=cursor, sortBy="createdAt", sortDirection="asc"
        )
        assert [m["messageId"] for m in body["messages"]] == later


async def test_message_id_answers_that_message_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    cid = convo["conversationId"]
    thread = await insert_thread(database, ALICE, cid, ["a", "b"])
    body = await _page(client, conversationId=cid, messageId=thread[1]["messageId"])
    assert [m["text"] for m in body["messages"]] == ["b"]
    assert body["nextCursor"] is None
    none = await _page(client, conversationId=cid, messageId="nope")
    assert none == {"messages": [], "nextCursor": None}


async def test_without_a_conversation_the_page_is_empty(client: httpx.AsyncClient) -> None:
    assert await _page(client) == {"messages": [], "nextCursor": None}


async def test_cursor_page_of_another_users_conversation_is_403_and_unknown_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    bobs = await insert_conversation(database, BOB)
    await insert_thread(database, BOB, bobs["conversationId"], ["secret"])
    response = await client.get(
        "/api/messages", params={"conversationId": bobs["conversationId"]}, headers=auth(ALICE)
    )
    assert response.status_code == 403 and "secret" not in response.text
    response = await client.get(
        "/api/messages", params={"conversationId": "nope"}, headers=auth(ALICE)
    )
    assert (response.status_code, response.json()) == (404, {"error": "Conversation not found"})


def _cursor(payload: dict[str, Any]) -> str:
    return base64.b64encode(orjson.dumps(payload)).decode()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"pageSize": "many"}, "pageSize must be a number"),
        ({"pageSize": "0"}, "pageSize must be between 1 and 200"),
        ({"sortBy": "text"}, "sortBy must be one of createdAt, updatedAt, endpoint"),
        ({"sortDirection": "up"}, "sortDirection must be asc or desc"),
        ({"cursor": "not a date"}, "Invalid cursor"),
        ({"cursor": _cursor({"primary": "x", "sortBy": "endpoint"})}, "Invalid cursor"),
        ({"cursor": _cursor({"primary": None, "dir": "asc"})}, "Invalid cursor"),
        ({"cursor": _cursor({"primary": "2024-01-15", "id": 5})}, "Invalid cursor"),
    ],
)
async def test_bad_page_parameters_are_400(
    client: httpx.AsyncClient, database: Database, params: dict[str, str], error: str
) -> None:
    convo = await insert_conversation(database, ALICE)
    response = await client.get(
        "/api/messages",
        params={"conversationId": convo["conversationId"], **params},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (400, {"error": error})


async def test_page_size_above_200_is_served_as_200(
    client: httpx.AsyncClient, database: Database
) -> None:
    convo = await insert_conversation(database, ALICE)
    await _tied(database, ALICE, convo["conversationId"], 205)
    body = await _page(client, conversationId=convo["conversationId"], pageSize=1000)
    assert len(body["messages"]) == 200 and body["nextCursor"] is not None
