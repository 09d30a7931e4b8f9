"""GET /api/convos: every parameter of docs/contract.md#convos-list, its defaults and its 400s."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from storage.database import Database, Document
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    auth,
    conversation_doc,
    insert_conversation,
    message_doc,
)


async def _many(database: Database, user: str, n: int, **fields: Any) -> list[Document]:
    """``n`` conversations, the first one the most recently updated."""
    docs = [
        conversation_doc(
            user, title=f"Chat {i:03d}", updatedAt=BASE_TIME - timedelta(minutes=i), **fields
        )
        for i in range(n)
    ]
    await database.conversations.insert_many(docs)
    return docs


async def _list(client: httpx.AsyncClient, user: str = ALICE, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/convos", params=params, headers=auth(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [c["conversationId"] for c in body["conversations"]]


async def _bad(client: httpx.AsyncClient, params: Any) -> dict[str, Any]:
    response = await client.get("/api/convos", params=params, headers=auth(ALICE))
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)
    return body


# --- limit -------------------------------------------------------------------


async def test_limit_defaults_to_25_with_page_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _many(database, ALICE, 30)
    body = await _list(client)
    assert _ids(body) == [d["conversationId"] for d in docs[:25]]
    assert (body["pageNumber"], body["pageSize"], body["pages"]) == (1, 25, 2)
    assert isinstance(body["nextCursor"], str)


async def test_limit_above_100_is_clamped_to_100(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _many(database, ALICE, 105)
    body = await _list(client, limit=1000)
    assert len(body["conversations"]) == 100
    assert (body["pageSize"], body["pages"]) == (100, 2)


@pytest.mark.parametrize("limit", ["abc", "2.5", "", "0", "-3", "1e3"])
async def test_limit_not_a_positive_integer_is_400(
    client: httpx.AsyncClient, database: Database, limit: str
) -> None:
    await _many(database, ALICE, 2)
    if limit == "":
        # An empty value is "not given": the default applies.
        body = await _list(client, limit=limit)
        assert body["pageSize"] == 25
        return
    error = await _bad(client, {"limit": limit})
    assert "limit" in error["error"]


async def test_pages_is_at_least_one_for_an_empty_list(client: httpx.AsyncClient) -> None:
    body = await _list(client)
    assert body == {
        "conversations": [],
        "nextCursor": None,
        "pageNumber": 1,
        "pageSize": 25,
        "pages": 1,
    }


@pytest.mark.parametrize(("n", "limit"), [(7, 3), (6, 3), (1, 1), (10, 7)])
async def test_pages_is_ceil_of_total_over_page_size(
    client: httpx.AsyncClient, database: Database, n: int, limit: int
) -> None:
    await _many(database, ALICE, n)
    body = await _list(client, limit=limit)
    assert body["pages"] == math.ceil(n / limit)
    assert (body["nextCursor"] is None) == (n <= limit)


# --- summaries ---------------------------------------------------------------


async def test_summary_carries_contract_fields_with_defaults(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = conversation_doc(
        ALICE,
        title="Stored",
        pinned=True,
        archivedAt=None,
        modelLabel="Helper",
        iconURL="https://x/i.png",
        agent_id="agent_1",
        spec="s1",
        endpointType="custom",
        temperature=0.3,
        messages=[ObjectId()],
    )
    del doc["isArchived"], doc["tags"]
    await database.conversations.insert_one(doc)
    (item,) = (await _list(client))["conversations"]
    for name in ("conversationId", "title", "createdAt", "updatedAt", "endpoint", "model"):
        assert item[name] == (
            doc[name] if name not in ("createdAt", "updatedAt") else "2024-01-15T10:00:00.000Z"
        )
    assert item["isArchived"] is False and item["tags"] == []
    assert item["_id"] == str(doc["_id"]) and item["user"] == ALICE
    assert item["pinned"] is True and item["modelLabel"] == "Helper"
    assert item["iconURL"] == "https://x/i.png" and item["agent_id"] == "agent_1"
    assert item["spec"] == "s1" and item["endpointType"] == "custom"
    assert "messages" not in item and "__v" not in item


async def test_only_the_callers_conversations_are_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await _many(database, ALICE, 3)
    await _many(database, BOB, 4)
    body = await _list(client)
    assert _ids(body) == [d["conversationId"] for d in mine]
    assert body["pages"] == 1


# --- isArchived --------------------------------------------------------------


async def test_is_archived_false_matches_documents_without_the_field(
    client: httpx.AsyncClient, database: Database
) -> None:
    plain = await insert_conversation(database, ALICE, title="plain")
    legacy = conversation_doc(ALICE, title="legacy", updatedAt=BASE_TIME - timedelta(hours=1))
    del legacy["isArchived"]
    await database.conversations.insert_one(legacy)
    archived = await insert_conversation(
        database, ALICE, title="old", isArchived=True, archivedAt=BASE_TIME
    )
    expected = [plain["conversationId"], legacy["conversationId"]]
    assert _ids(await _list(client)) == expected
    assert _ids(await _list(client, isArchived="false")) == expected
    assert _ids(await _list(client, isArchived="true")) == [archived["conversationId"]]
    assert _ids(await _list(client, isArchived="TRUE")) == [archived["conversationId"]]


async def test_is_archived_not_a_boolean_is_400(client: httpx.AsyncClient) -> None:
    await _bad(client, {"isArchived": "maybe"})


# --- temporary conversations ---------------------------------------------------


async def test_temporary_conversations_are_never_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    kept = await insert_conversation(database, ALICE, title="Trip", tags=["t"])
    expires = BASE_TIME + timedelta(days=30)
    await insert_conversation(database, ALICE, title="Trip temp", tags=["t"], expiredAt=expires)
    await insert_conversation(
        database, ALICE, title="Trip temp archived", isArchived=True, expiredAt=expires
    )
    assert _ids(await _list(client)) == [kept["conversationId"]]
    assert _ids(await _list(client, search="trip")) == [kept["conversationId"]]
    assert _ids(await _list(client, tags="t")) == [kept["conversationId"]]
    assert _ids(await _list(client, isArchived="true")) == []
    assert (await _list(client))["pages"] == 1


async def test_explicit_null_expired_at_is_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, expiredAt=None)
    assert _ids(await _list(client)) == [doc["conversationId"]]


# --- tags --------------------------------------------------------------------


async def test_tags_filter_single_repeated_and_bracketed(
    client: httpx.AsyncClient, database: Database
) -> None:
    work = await insert_conversation(database, ALICE, tags=["work"], updatedAt=BASE_TIME)
    home = await insert_conversation(
        database, ALICE, tags=["home", "x"], updatedAt=BASE_TIME - timedelta(minutes=1)
    )
    await insert_conversation(database, ALICE, tags=[], updatedAt=BASE_TIME - timedelta(minutes=2))
    await insert_conversation(database, BOB, tags=["work"])
    assert _ids(await _list(client, tags="work")) == [work["conversationId"]]
    both = [work["conversationId"], home["conversationId"]]
    response = await client.get(
        "/api/convos", params=[("tags", "work"), ("tags", "home")], headers=auth(ALICE)
    )
    assert _ids(response.json()) == both
    response = await client.get(
        "/api/convos", params=[("tags[]", "work"), ("tags[]", "home")], headers=auth(ALICE)
    )
    assert _ids(response.json()) == both
    assert _ids(await _list(client, tags="nope")) == []


async def test_tag_filter_with_spaces_and_slashes(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, tags=["a b/c"])
    assert _ids(await _list(client, tags="a b/c")) == [doc["conversationId"]]


async def test_too_long_tag_filter_is_400(client: httpx.AsyncClient) -> None:
    await _bad(client, {"tags": "x" * 257})


# --- search ------------------------------------------------------------------


async def test_search_matches_title_tags_and_message_text_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    by_title = await insert_conversation(database, ALICE, title="Paris TRIP", updatedAt=BASE_TIME)
    by_tag = await insert_conversation(
        database, ALICE, title="x", tags=["trips"], updatedAt=BASE_TIME - timedelta(minutes=1)
    )
    by_text = await insert_conversation(
        database, ALICE, title="y", updatedAt=BASE_TIME - timedelta(minutes=2)
    )
    by_content = await insert_conversation(
        database, ALICE, title="z", updatedAt=BASE_TIME - timedelta(minutes=3)
    )
    unrelated = await insert_conversation(
        database, ALICE, title="Groceries", updatedAt=BASE_TIME - timedelta(minutes=4)
    )
    await database.messages.insert_many(
        [
            message_doc(ALICE, by_text["conversationId"], text="Plan my trip to Rome"),
            message_doc(
                ALICE,
                by_content["conversationId"],
                text="",
                content=[{"type": "text", "text": "A road TRIP"}, {"type": "image_url"}],
            ),
            message_doc(ALICE, unrelated["conversationId"], text="milk and eggs"),
        ]
    )
    body = await _list(client, search="trip")
    assert _ids(body) == [
        by_title["conversationId"],
        by_tag["conversationId"],
        by_text["conversationId"],
        by_content["conversationId"],
    ]
    assert body["pages"] == 1


async def test_search_does_not_match_other_users_messages(
    client: httpx.AsyncClient, database: Database
) -> None:
    shared_id = "same-id-for-both"
    await insert_conversation(database, ALICE, conversationId=shared_id, title="a")
    await insert_conversation(database, BOB, conversationId=shared_id, title="b")
    await database.messages.insert_one(message_doc(BOB, shared_id, text="bob's secret"))
    assert _ids(await _list(client, search="secret")) == []


async def test_search_is_literal_not_a_regex(client: httpx.AsyncClient, database: Database) -> None:
    await insert_conversation(database, ALICE, title="axb")
    dotted = await insert_conversation(
        database, ALICE, title="a.b", updatedAt=BASE_TIME - timedelta(minutes=1)
    )
    assert _ids(await _list(client, search="a.b")) == [dotted["conversationId"]]
    assert _ids(await _list(client, search=".*")) == []
    assert _ids(await _list(client, search="(")) == []


async def test_search_is_decoded_once_more_like_librechat(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="100% done")
    # The client encodes twice: %25 arrives as %2525.
    response = await client.get("/api/convos?search=100%2525", headers=auth(ALICE))
    assert _ids(response.json()) == [doc["conversationId"]]


async def test_blank_search_is_no_filter(client: httpx.AsyncClient, database: Database) -> None:
    await _many(database, ALICE, 2)
    assert len((await _list(client, search="   "))["conversations"]) == 2


async def test_search_longer_than_500_is_400(client: httpx.AsyncClient) -> None:
    # 500, not LibreChat's unbounded text: escaped, it must fit the database's regex cap.
    error = await _bad(client, {"search": "x" * 501})
    assert "search" in error["error"]


async def test_search_combines_with_tags_and_archive_filters(
    client: httpx.AsyncClient, database: Database
) -> None:
    hit = await insert_conversation(database, ALICE, title="report", tags=["work"])
    await insert_conversation(database, ALICE, title="report", tags=["home"])
    await insert_conversation(database, ALICE, title="report", tags=["work"], isArchived=True)
    assert _ids(await _list(client, search="report", tags="work")) == [hit["conversationId"]]


# --- pinned ------------------------------------------------------------------


async def test_pinned_filter(client: httpx.AsyncClient, database: Database) -> None:
    pinned = await insert_conversation(database, ALICE, pinned=True, updatedAt=BASE_TIME)
    unpinned = await insert_conversation(
        database, ALICE, pinned=False, updatedAt=BASE_TIME - timedelta(minutes=1)
    )
    never = await insert_conversation(database, ALICE, updatedAt=BASE_TIME - timedelta(minutes=2))
    assert _ids(await _list(client, pinned="true")) == [pinned["conversationId"]]
    assert _ids(await _list(client, pinned="false")) == [
        unpinned["conversationId"],
        never["conversationId"],
    ]
    assert len(_ids(await _list(client))) == 3
    await _bad(client, {"pinned": "yes"})


# --- sortBy / sortDirection ------------------------------------------------------


async def test_sort_by_each_key_and_direction(
    client: httpx.AsyncClient, database: Database
) -> None:
    a = await insert_conversation(
        database,
        ALICE,
        title="b",
        createdAt=BASE_TIME,
        updatedAt=BASE_TIME,
        isArchived=True,
        archivedAt=BASE_TIME + timedelta(days=2),
    )
    b = await insert_conversation(
        database,
        ALICE,
        title="a",
        createdAt=BASE_TIME + timedelta(days=1),
        updatedAt=BASE_TIME - timedelta(days=1),
        isArchived=True,
        archivedAt=BASE_TIME + timedelta(days=1),
    )
    c = await insert_conversation(
        database,
        ALICE,
        title="c",
        createdAt=BASE_TIME - timedelta(days=1),
        updatedAt=BASE_TIME + timedelta(days=1),
        isArchived=True,
        archivedAt=BASE_TIME + timedelta(days=3),
    )
    ids = {"a": a["conversationId"], "b": b["conversationId"], "c": c["conversationId"]}
    expected = {
        "updatedAt": "cab",
        "createdAt": "bac",
        "title": "cab",
        "archivedAt": "cab",
    }
    for sort_by, desc in expected.items():
        body = await _list(client, isArchived="true", sortBy=sort_by)
        assert _ids(body) == [ids[k] for k in desc], sort_by
        body = await _list(client, isArchived="true", sortBy=sort_by, sortDirection="desc")
        assert _ids(body) == [ids[k] for k in desc], sort_by
        body = await _list(client, isArchived="true", sortBy=sort_by, sortDirection="asc")
        assert _ids(body) == [ids[k] for k in reversed(desc)], sort_by


async def test_title_sort_breaks_ties_by_updated_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    older = await insert_conversation(database, ALICE, title="same", updatedAt=BASE_TIME)
    newer = await insert_conversation(
        database, ALICE, title="same", updatedAt=BASE_TIME + timedelta(seconds=1)
    )
    body = await _list(client, sortBy="title", sortDirection="asc")
    assert _ids(body) == [older["conversationId"], newer["conversationId"]]
    body = await _list(client, sortBy="title", sortDirection="desc")
    assert _ids(body) == [newer["conversationId"], older["conversationId"]]


@pytest.mark.parametrize("sort_by", ["messages", "user", "updatedat", "_id", "$where"])
async def test_unknown_sort_by_is_400(client: httpx.AsyncClient, sort_by: str) -> None:
    error = await _bad(client, {"sortBy": sort_by})
    assert "sortBy" in error["error"]


@pytest.mark.parametrize("direction", ["up", "ASC", "1", "-1", "descending"])
async def test_unknown_sort_direction_is_400(client: httpx.AsyncClient, direction: str) -> None:
    error = await _bad(client, {"sortDirection": direction})
    assert "sortDirection" in error["error"]


# --- pageNumber (legacy offset paging) -----------------------------------------------


async def test_page_number_pages_by_offset(client: httpx.AsyncClient, database: Database) -> None:
    docs = await _many(database, ALICE, 7)
    ids = [d["conversationId"] for d in docs]
    pages = [await _list(client, limit=3, pageNumber=n) for n in (1, 2, 3, 4)]
    assert [_ids(p) for p in pages] == [ids[0:3], ids[3:6], ids[6:7], []]
    assert [p["pageNumber"] for p in pages] == [1, 2, 3, 4]
    assert all(p["pages"] == 3 and p["pageSize"] == 3 for p in pages)
    assert pages[0]["nextCursor"] is not None and pages[2]["nextCursor"] is None


async def test_next_cursor_after_a_page_number_continues_from_that_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _many(database, ALICE, 7)
    ids = [d["conversationId"] for d in docs]
    second = await _list(client, limit=3, pageNumber=2)
    third = await _list(client, limit=3, cursor=second["nextCursor"])
    assert _ids(third) == ids[6:]
    assert third["pageNumber"] == 3


async def test_cursor_wins_over_page_number(client: httpx.AsyncClient, database: Database) -> None:
    docs = await _many(database, ALICE, 7)
    first = await _list(client, limit=3)
    body = await _list(client, limit=3, cursor=first["nextCursor"], pageNumber=3)
    assert _ids(body) == [d["conversationId"] for d in docs[3:6]]
    assert body["pageNumber"] == 2


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5"])
async def test_bad_page_number_is_400(client: httpx.AsyncClient, page: str) -> None:
    error = await _bad(client, {"pageNumber": page})
    assert "pageNumber" in error["error"]


async def test_cursor_pages_report_their_page_number(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _many(database, ALICE, 7)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = await _list(client, **params)
        seen.append(body["pageNumber"])
        assert body["pages"] == 3
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3]


async def test_huge_page_numbers_are_400_and_the_largest_allowed_is_an_empty_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _many(database, ALICE, 2)
    for page in ("20000001", "999999999999999999", "99999999999999999999"):
        error = await _bad(client, {"pageNumber": page})
        assert error == {"error": "pageNumber must be at most 20000000"}
    body = await _list(client, pageNumber=20000000, limit=100)
    assert body["conversations"] == [] and body["pageNumber"] == 20000000
