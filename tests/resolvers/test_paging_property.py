"""Property: walking every page by cursor returns each matching conversation
exactly once, in the order a full sort on (key, updatedAt, _id) gives, for
every sort key and direction, with many ties, missing titles and null dates.

Checked through REST (``nextCursor``) and GraphQL (``endCursor``), on small
random datasets, with MongoDB's ordering modelled in Python: null and missing
sort before any value; strings compare by code point (UTF-8 bytes).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import httpx
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.database import Database, Document
from tests.utils.factories import ALICE, BASE_TIME, BOB, auth, conversation_doc
from tests.utils.http import gql

SORTS = ("updatedAt", "createdAt", "title", "archivedAt")
DIRECTIONS = ("asc", "desc")
MISSING = object()

# Few distinct values, so that ties are the rule, not the exception.
TIMES = [BASE_TIME + timedelta(minutes=m) for m in (0, 1, 2)]
TITLES = [MISSING, None, "", "a", "A", "b", "é", "a "]
ARCHIVED_AT = [MISSING, None, *TIMES[:2]]

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def datasets(draw: st.DrawFn) -> list[Document]:
    n = draw(st.integers(min_value=0, max_value=14))
    id_numbers = draw(st.lists(st.integers(1, 2**40), min_size=n + 3, max_size=n + 3, unique=True))
    docs: list[Document] = []
    for i in range(n + 3):
        fields: dict[str, Any] = {
            "_id": ObjectId(f"{id_numbers[i]:024x}"),
            "updatedAt": draw(st.sampled_from(TIMES)),
            "createdAt": draw(st.sampled_from(TIMES)),
            "isArchived": draw(st.booleans()),
        }
        for name, choices in (("title", TITLES), ("archivedAt", ARCHIVED_AT)):
            value = draw(st.sampled_from(choices))
            if value is not MISSING:
                fields[name] = value
        doc = conversation_doc(ALICE if i < n else BOB, **fields)
        if "title" not in fields:
            del doc["title"]
        if i == n + 2:  # a temporary conversation of Alice's: never listed
            doc["user"] = ALICE
            doc["expiredAt"] = BASE_TIME
        docs.append(doc)
    return docs


def _bson_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


def expected_order(
    docs: list[Document], sort_by: str, direction: str, is_archived: bool
) -> list[str]:
    visible = [
        d
        for d in docs
        if d["user"] == ALICE
        and d.get("expiredAt") is None
        and (d.get("isArchived") is True) == is_archived
    ]
    fields = [sort_by, "_id"] if sort_by == "updatedAt" else [sort_by, "updatedAt", "_id"]
    ordered = sorted(
        visible,
        key=lambda d: tuple(_bson_key(d.get(f)) for f in fields),
        reverse=direction == "desc",
    )
    return [d["conversationId"] for d in ordered]


async def _reset(database: Database, docs: list[Document]) -> None:
    await database.conversations.delete_many({})
    if docs:
        await database.conversations.insert_many([dict(d) for d in docs])


async def _walk_rest(
    client: httpx.AsyncClient,
    sort_by: str,
    direction: str,
    limit: int,
    is_archived: bool,
    total: int,
) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for page in range(1, total + 2):
        params: dict[str, Any] = {
            "limit": limit,
            "sortBy": sort_by,
            "sortDirection": direction,
            "isArchived": str(is_archived).lower(),
        }
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get("/api/convos", params=params, headers=auth(ALICE))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["pageNumber"] == page
        assert body["pages"] == max(1, math.ceil(total / limit))
        assert len(body["conversations"]) <= limit
        seen += [c["conversationId"] for c in body["conversations"]]
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


@given(
    docs=datasets(),
    limit=st.sampled_from([1, 3, 7]),
    is_archived=st.booleans(),
)
@PROPERTY_SETTINGS
async def test_rest_cursor_paging_visits_every_item_once_in_sort_order(
    client: httpx.AsyncClient,
    database: Database,
    docs: list[Document],
    limit: int,
    is_archived: bool,
) -> None:
    await _reset(database, docs)
    for sort_by in SORTS:
        for direction in DIRECTIONS:
            expected = expected_order(docs, sort_by, direction, is_archived)
            seen = await _walk_rest(client, sort_by, direction, limit, is_archived, len(expected))
            assert seen == expected, (sort_by, direction, limit)


@given(docs=datasets(), limit=st.sampled_from([1, 3, 7]))
@PROPERTY_SETTINGS
async def test_rest_page_number_paging_matches_the_same_order(
    client: httpx.AsyncClient, database: Database, docs: list[Document], limit: int
) -> None:
    await _reset(database, docs)
    for sort_by in SORTS:
        direction = "asc" if sort_by in ("title", "createdAt") else "desc"
        expected = expected_order(docs, sort_by, direction, False)
        seen: list[str] = []
        for page in range(1, max(1, math.ceil(len(expected) / limit)) + 1):
            response = await client.get(
                "/api/convos",
                params={
                    "limit": limit,
                    "pageNumber": page,
                    "sortBy": sort_by,
                    "sortDirection": direction,
                },
                headers=auth(ALICE),
            )
            seen += [c["conversationId"] for c in response.json()["conversations"]]
        assert seen == expected, (sort_by, direction)


QUERY = """query($first: Int, $after: String, $sortBy: ConversationSort!,
                 $dir: SortDirection!, $archived: Boolean!) {
  conversations(first: $first, after: $after, sortBy: $sortBy, sortDirection: $dir,
                isArchived: $archived) {
    edges { cursor node { conversationId } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


async def _page_graphql(
    client: httpx.AsyncClient,
    sort_by: str,
    direction: str,
    first: int,
    after: str | None,
    is_archived: bool,
) -> dict[str, Any]:
    body = await gql(
        client,
        QUERY,
        {
            "first": first,
            "after": after,
            "sortBy": _enum(sort_by),
            "dir": direction.upper(),
            "archived": is_archived,
        },
        user=ALICE,
    )
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["conversations"]
    return page


def _enum(sort_by: str) -> str:
    return {
        "updatedAt": "UPDATED_AT",
        "createdAt": "CREATED_AT",
        "title": "TITLE",
        "archivedAt": "ARCHIVED_AT",
    }[sort_by]


@given(
    docs=datasets(),
    first=st.sampled_from([1, 3, 7]),
    is_archived=st.booleans(),
    resume_at=st.integers(min_value=0, max_value=100),
)
@PROPERTY_SETTINGS
async def test_graphql_cursor_paging_visits_every_item_once_in_sort_order(
    client: httpx.AsyncClient,
    database: Database,
    docs: list[Document],
    first: int,
    is_archived: bool,
    resume_at: int,
) -> None:
    await _reset(database, docs)
    for sort_by in SORTS:
        for direction in DIRECTIONS:
            expected = expected_order(docs, sort_by, direction, is_archived)
            seen: list[str] = []
            cursors: list[str] = []
            after: str | None = None
            for _ in range(len(expected) + 2):
                page = await _page_graphql(client, sort_by, direction, first, after, is_archived)
                assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
                seen += [e["node"]["conversationId"] for e in page["edges"]]
                cursors += [e["cursor"] for e in page["edges"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            assert seen == expected, (sort_by, direction, first)
            if cursors:
                # Every edge's cursor resumes right after that edge.
                i = resume_at % len(cursors)
                page = await _page_graphql(client, sort_by, direction, 100, cursors[i], is_archived)
                rest = [e["node"]["conversationId"] for e in page["edges"]]
                assert rest == expected[i + 1 :], (sort_by, direction, i)


def test_model_orders_nulls_first_and_strings_by_code_point() -> None:
    docs = [
        conversation_doc(ALICE, _id=ObjectId(f"{i:024x}"), title=t, updatedAt=TIMES[0])
        for i, t in enumerate(["b", "A", "a", "", "é"], start=1)
    ]
    untitled = conversation_doc(ALICE, _id=ObjectId(f"{9:024x}"), updatedAt=TIMES[0])
    del untitled["title"]
    docs.append(untitled)
    order = expected_order(docs, "title", "asc", False)
    titles = [next(d.get("title") for d in docs if d["conversationId"] == c) for c in order]
    assert titles == [None, "", "A", "a", "b", "é"]


async def test_walk_with_every_title_tied_and_every_date_equal(
    client: httpx.AsyncClient, database: Database
) -> None:
    same = datetime(2024, 1, 1)
    docs = [
        conversation_doc(ALICE, title="same", updatedAt=same, createdAt=same, archivedAt=None)
        for _ in range(9)
    ]
    for doc in docs:
        doc["_id"] = ObjectId()
    await database.conversations.insert_many(docs)
    for sort_by in SORTS:
        for direction in DIRECTIONS:
            expected = expected_order(docs, sort_by, direction, False)
            assert await _walk_rest(client, sort_by, direction, 2, False, 9) == expected
