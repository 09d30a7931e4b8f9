"""GET /api/convos date filters (docs/contract.md#convos-list-dates): bounds,
combinations with every filter and sort, cursors, isolation and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from storage.database import Database, Document
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    auth,
    conversation_doc,
    fingerprint,
)

DAY = timedelta(days=1)
SORTS = [(s, d) for s in ("updatedAt", "createdAt", "title", "archivedAt") for d in ("asc", "desc")]


def _z(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds") + "Z"


async def _seed(database: Database, user: str = ALICE, n: int = 10) -> list[Document]:
    """``n`` conversations created one day apart and updated in the reverse
    order, with ties on every sort key (titles repeat, updates come in pairs)."""
    docs = [
        conversation_doc(
            user,
            title=f"Chat {i % 3}",
            createdAt=BASE_TIME + i * DAY,
            updatedAt=BASE_TIME + (20 - i // 2) * DAY,
            tags=["work"] if i % 2 else ["home"],
            pinned=i % 4 == 0,
            archivedAt=BASE_TIME + (i % 3) * DAY,
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


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        body = await _list(client, **params, **({"cursor": cursor} if cursor else {}))
        ids += _ids(body)
        cursor = body["nextCursor"]
        if cursor is None:
            return ids
    raise AssertionError("paging did not end")


async def test_created_after_includes_its_bound_and_created_before_excludes_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _seed(database)
    bound = _z(BASE_TIME + 4 * DAY)
    after = await _list(client, createdAfter=bound, sortBy="createdAt", sortDirection="asc")
    before = await _list(client, createdBefore=bound, sortBy="createdAt", sortDirection="asc")
    assert _ids(after) == [d["conversationId"] for d in docs[4:]]
    assert _ids(before) == [d["conversationId"] for d in docs[:4]]
    assert after["pages"] == 1 and len(_ids(after)) + len(_ids(before)) == len(docs)


async def test_updated_range_selects_on_updated_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _seed(database)
    body = await _list(
        client,
        updatedAfter=_z(BASE_TIME + 17 * DAY),
        updatedBefore=_z(BASE_TIME + 19 * DAY),
    )
    expected = {
        d["conversationId"]
        for d in docs
        if BASE_TIME + 17 * DAY <= d["updatedAt"] < BASE_TIME + 19 * DAY
    }
    assert len(expected) == 4 and set(_ids(body)) == expected


@pytest.mark.parametrize(
    ("value", "created_days"),
    [
        ("2024-01-18", [3, 4]),  # a date: midnight UTC, so the 10:00 of that day is in
        ("2024-01-18T12:00:00+02:00", [3, 4]),  # 10:00 UTC, inclusive
        ("2024-01-18T10:00:00.001Z", [4]),
        ("2024-01-18T10:00:00.000500Z", [4]),  # microseconds: still after 10:00:00.000
    ],
)
async def test_dates_may_be_days_offsets_or_sub_millisecond_instants(
    client: httpx.AsyncClient, database: Database, value: str, created_days: list[int]
) -> None:
    docs = await _seed(database, n=5)
    body = await _list(client, createdAfter=value, sortBy="createdAt", sortDirection="asc")
    assert _ids(body) == [docs[i]["conversationId"] for i in created_days]


async def test_empty_date_parameter_is_no_filter(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = await _seed(database, n=3)
    assert len(_ids(await _list(client, createdAfter="", updatedBefore=""))) == len(docs)


async def test_a_document_without_the_date_matches_no_bound_on_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    dated = conversation_doc(ALICE)
    undated = conversation_doc(ALICE)
    del undated["createdAt"]
    await database.conversations.insert_many([dated, undated])
    assert _ids(await _list(client, createdAfter="2000-01-01")) == [dated["conversationId"]]
    assert _ids(await _list(client, createdBefore="3000-01-01")) == [dated["conversationId"]]
    assert len(_ids(await _list(client))) == 2


@pytest.mark.parametrize(("sort_by", "direction"), SORTS)
async def test_every_sort_pages_a_date_filtered_list_with_stable_cursors(
    client: httpx.AsyncClient, database: Database, sort_by: str, direction: str
) -> None:
    await _seed(database, n=14)
    window = {"createdAfter": _z(BASE_TIME + 2 * DAY), "updatedBefore": _z(BASE_TIME + 19 * DAY)}
    whole = _ids(await _list(client, sortBy=sort_by, sortDirection=direction, **window))
    paged = await _all_pages(client, sortBy=sort_by, sortDirection=direction, limit=3, **window)
    assert paged == whole and len(set(paged)) == len(paged)
    docs = await database.conversations.find({"user": ALICE}).to_list(None)
    expected = {
        d["conversationId"]
        for d in docs
        if d["createdAt"] >= BASE_TIME + 2 * DAY and d["updatedAt"] < BASE_TIME + 19 * DAY
    }
    assert set(paged) == expected and 0 < len(expected) < len(docs)


@pytest.mark.parametrize(
    "extra",
    [
        {"tags": "work"},
        {"pinned": "true"},
        {"pinned": "false"},
        {"search": "chat 1"},
        {"isArchived": "true"},
        {"pageNumber": "2", "limit": "2"},
    ],
)
async def test_date_filters_combine_with_every_other_filter(
    client: httpx.AsyncClient, database: Database, extra: dict[str, str]
) -> None:
    docs = await _seed(database)
    if extra.get("isArchived") == "true":
        await database.conversations.update_many({}, {"$set": {"isArchived": True}})
    bound = BASE_TIME + 3 * DAY
    without = set(_ids(await _list(client, **extra)))
    with_dates = _ids(await _list(client, createdAfter=_z(bound), **extra))
    created = {d["conversationId"]: d["createdAt"] for d in docs}
    if "pageNumber" in extra:
        # Page 2 of the filtered list: the 3rd and 4th newest activity with createdAt >= bound.
        ordered = sorted(
            (d for d in docs if d["createdAt"] >= bound),
            key=lambda d: (d["updatedAt"], d["_id"]),
            reverse=True,
        )
        assert with_dates == [d["conversationId"] for d in ordered[2:4]]
        return
    assert set(with_dates) == {cid for cid in without if created[cid] >= bound}
    assert 0 < len(with_dates) < len(without)


async def test_another_users_conversations_in_the_range_are_not_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    mine = await _seed(database, n=3)
    await _seed(database, user=BOB, n=3)
    body = await _list(client, createdAfter="2000-01-01", updatedBefore="3000-01-01")
    assert set(_ids(body)) == {d["conversationId"] for d in mine}


@pytest.mark.parametrize("name", ["createdAfter", "createdBefore", "updatedAfter", "updatedBefore"])
@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01", "2024-01-15T25:00:00Z", "1e9", " ", "2" * 65]
)
async def test_a_bad_date_is_400_naming_the_parameter_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, name: str, value: str
) -> None:
    await _seed(database, n=2)
    before = await fingerprint(database)
    response = await client.get("/api/convos", params={name: value}, headers=auth(ALICE))
    assert response.status_code == 400
    assert response.json() == {"error": f"{name} must be an ISO-8601 date"}
    assert await fingerprint(database) == before


async def test_the_first_bad_date_in_contract_order_is_named(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/convos",
        params={"updatedBefore": "x", "createdBefore": "y"},
        headers=auth(ALICE),
    )
    assert response.json() == {"error": "createdBefore must be an ISO-8601 date"}
