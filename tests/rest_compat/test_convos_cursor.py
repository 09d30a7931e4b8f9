"""GET /api/convos?cursor=: our opaque cursors, LibreChat's own formats, garbage."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from bson import ObjectId

from resolvers.operations.clock import iso
from storage.database import Database, Document
from tests.utils.factories import ALICE, BASE_TIME, BOB, auth, conversation_doc


def _cursor(payload: Any) -> str:
    return base64.b64encode(orjson.dumps(payload)).decode()


async def _list(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/convos", params=params, headers=auth(ALICE))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [c["conversationId"] for c in body["conversations"]]


async def _tied(database: Database) -> list[Document]:
    """Six conversations in updatedAt-desc order; the middle four share updatedAt.

    Returned in the list's order: updatedAt desc, then _id desc.
    """
    tied = BASE_TIME
    docs = [
        conversation_doc(ALICE, title="t0", updatedAt=tied + timedelta(hours=1)),
        *[conversation_doc(ALICE, title=f"t{i}", updatedAt=tied) for i in range(1, 5)],
        conversation_doc(ALICE, title="t5", updatedAt=tied - timedelta(hours=1)),
    ]
    for doc in docs:
        doc["_id"] = ObjectId()
    await database.conversations.insert_many(docs)
    await database.conversations.insert_one(conversation_doc(BOB, updatedAt=tied))
    middle = sorted(docs[1:5], key=lambda d: d["_id"], reverse=True)
    return [docs[0], *middle, docs[5]]


async def test_next_cursor_walks_ties_without_repeats_or_gaps(
    client: httpx.AsyncClient, database: Database
) -> None:
    expected = [d["conversationId"] for d in await _tied(database)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = await _list(client, **params)
        seen += _ids(body)
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_our_cursor_is_librechats_base64_json(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _tied(database)
    body = await _list(client, limit=2)
    payload = orjson.loads(base64.b64decode(body["nextCursor"], validate=True))
    last = docs[1]
    assert payload["primary"] == iso(last["updatedAt"])
    assert payload["secondary"] == iso(last["updatedAt"])
    assert payload["id"] == str(last["_id"])


async def test_librechat_v088_cursor_with_id_continues_after_that_item(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _tied(database)
    at = docs[2]
    cursor = _cursor(
        {
            "primary": iso(at["updatedAt"]),
            "secondary": iso(at["updatedAt"]),
            "id": str(at["_id"]),
        }
    )
    body = await _list(client, limit=25, cursor=cursor)
    assert _ids(body) == [d["conversationId"] for d in docs[3:]]
    assert body["nextCursor"] is None
    # No page number in LibreChat's cursor: the page is where its next item falls.
    body = await _list(client, limit=2, cursor=cursor)
    assert _ids(body) == [d["conversationId"] for d in docs[3:5]]
    assert (body["pageNumber"], body["pages"]) == (2, 3)


async def test_librechat_cursor_for_title_sort(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = [
        conversation_doc(ALICE, title=t, updatedAt=BASE_TIME + timedelta(minutes=i))
        for i, t in enumerate(["b", "a", "c", "a"])
    ]
    await database.conversations.insert_many(docs)
    # title asc, then updatedAt asc: a(1), a(3), b(0), c(2)
    cursor = _cursor({"primary": "a", "secondary": iso(docs[3]["updatedAt"])})
    body = await _list(client, sortBy="title", sortDirection="asc", cursor=cursor)
    assert _ids(body) == [docs[0]["conversationId"], docs[2]["conversationId"]]


async def test_older_librechat_cursor_without_id_skips_everything_tied_to_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _tied(database)
    cursor = _cursor({"primary": iso(BASE_TIME), "secondary": iso(BASE_TIME)})
    body = await _list(client, cursor=cursor)
    assert _ids(body) == [docs[5]["conversationId"]]


async def test_older_librechat_cursor_without_id_for_created_at_sort(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = [
        conversation_doc(ALICE, createdAt=BASE_TIME + timedelta(minutes=i), updatedAt=BASE_TIME)
        for i in range(4)
    ]
    await database.conversations.insert_many(docs)
    at = docs[2]
    cursor = _cursor({"primary": iso(at["createdAt"]), "secondary": iso(at["updatedAt"])})
    body = await _list(client, sortBy="createdAt", cursor=cursor)
    assert _ids(body) == [docs[1]["conversationId"], docs[0]["conversationId"]]


@pytest.mark.parametrize("when", ["2024-01-15T10:00:00.000Z", "2024-01-15T10:00:00Z"])
async def test_bare_iso_date_cursor_lists_strictly_older_conversations(
    client: httpx.AsyncClient, database: Database, when: str
) -> None:
    docs = await _tied(database)
    body = await _list(client, cursor=when)
    assert _ids(body) == [docs[5]["conversationId"]]


async def test_cursor_with_the_other_direction_of_paging(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _tied(database)
    ascending = list(reversed(docs))
    first = await _list(client, limit=3, sortDirection="asc")
    assert _ids(first) == [d["conversationId"] for d in ascending[:3]]
    second = await _list(client, limit=3, sortDirection="asc", cursor=first["nextCursor"])
    assert _ids(second) == [d["conversationId"] for d in ascending[3:]]


def _garbage() -> list[str]:
    return [
        "garbage",
        "!!!",
        "2024-13-45",
        _cursor([1, 2]),
        _cursor({"secondary": "2024-01-15T10:00:00.000Z"}),
        _cursor({"primary": 12, "secondary": "2024-01-15T10:00:00.000Z"}),
        _cursor({"primary": "not a date", "secondary": "2024-01-15T10:00:00.000Z"}),
        _cursor({"primary": {"$gt": ""}, "secondary": "2024-01-15T10:00:00.000Z"}),
        _cursor({"primary": "2024-01-15T10:00:00.000Z", "id": {"$ne": None}}),
        _cursor({"primary": "2024-01-15T10:00:00.000Z", "page": -2}),
        base64.b64encode(b"\xff\xfe not json").decode(),
        "x" * 5000,
    ]


@pytest.mark.parametrize("cursor", _garbage())
async def test_garbage_cursor_is_400_invalid_cursor(
    client: httpx.AsyncClient, database: Database, cursor: str
) -> None:
    await _tied(database)
    response = await client.get("/api/convos", params={"cursor": cursor}, headers=auth(ALICE))
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid cursor"}


async def test_cursor_of_one_sort_is_refused_by_another(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _tied(database)
    first = await _list(client, limit=2, sortBy="title")
    response = await client.get(
        "/api/convos",
        params={"cursor": first["nextCursor"], "sortBy": "createdAt"},
        headers=auth(ALICE),
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid cursor"}


async def test_cursor_past_the_end_is_an_empty_last_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _tied(database)
    cursor = _cursor(
        {
            "primary": iso(datetime(2000, 1, 1)),
            "secondary": iso(datetime(2000, 1, 1)),
            "id": str(ObjectId()),
        }
    )
    body = await _list(client, cursor=cursor)
    assert body["conversations"] == [] and body["nextCursor"] is None
