"""POST /api/tags/rebuild and GraphQL rebuildTags (docs/contract.md#tags-rebuild):
counts from the conversations, missing tags created, positions renumbered, the
caller's tags only, under the per-user tag lock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette

from resolvers.adapters.services import Services
from resolvers.operations import tags as tag_ops
from storage.database import Database
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    auth,
    fingerprint,
    insert_conversation,
)
from tests.utils.http import gql


def _tag(user: str, tag: str, count: int, position: int | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "user": user,
        "tag": tag,
        "count": count,
        "createdAt": BASE_TIME,
        "updatedAt": BASE_TIME,
    }
    if position is not None:
        doc["position"] = position
    return doc


async def _seed(database: Database) -> None:
    """Tags out of step with the conversations, as drifting +1/-1 writers leave them."""
    await insert_conversation(database, ALICE, tags=["work", "trip"])
    await insert_conversation(database, ALICE, tags=["work", "work"])  # counted once
    await insert_conversation(database, ALICE, tags=["ghost", "", 7, "x" * 300])
    await insert_conversation(database, ALICE, tags=["work"], isArchived=True)
    await database.tags.insert_many(
        [
            _tag(ALICE, "work", -2, 5),
            _tag(ALICE, "trip", 9, 5),  # a duplicate position
            _tag(ALICE, "unused", 4, 9),
            _tag(BOB, "work", 11, 0),
        ]
    )
    await insert_conversation(database, BOB, tags=["bobs"])


async def _stored(database: Database, user: str) -> dict[str, tuple[int, int]]:
    docs = await database.tags.find({"user": user}).to_list(None)
    return {d["tag"]: (d["count"], d["position"]) for d in docs}


async def test_rebuild_recounts_creates_missing_tags_and_renumbers_positions(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    response = await client.post("/api/tags/rebuild", headers=auth(ALICE))
    assert response.status_code == 200
    body = response.json()
    assert [(t["tag"], t["count"], t["position"]) for t in body] == [
        ("work", 3, 0),
        ("trip", 1, 1),
        ("unused", 0, 2),
        ("ghost", 1, 3),
    ]
    assert await _stored(database, ALICE) == {
        "work": (3, 0),
        "trip": (1, 1),
        "unused": (0, 2),
        "ghost": (1, 3),
    }
    # The answer is the tag list itself, as GET /api/tags shows it afterwards.
    listed = await client.get("/api/tags", headers=auth(ALICE))
    assert listed.json() == body


async def test_rebuild_leaves_other_users_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    bobs_before = await database.tags.find({"user": BOB}).to_list(None)
    await client.post("/api/tags/rebuild", headers=auth(ALICE))
    assert await database.tags.find({"user": BOB}).to_list(None) == bobs_before


async def test_rebuild_twice_changes_nothing_the_second_time(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    first = await client.post("/api/tags/rebuild", headers=auth(ALICE))
    before = await fingerprint(database)
    second = await client.post("/api/tags/rebuild", headers=auth(ALICE))
    assert second.json() == first.json()
    assert await fingerprint(database) == before


async def test_rebuild_with_a_bad_body_is_400_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    before = await fingerprint(database)
    response = await client.post(
        "/api/tags/rebuild",
        content=b"[1]",
        headers={**auth(ALICE), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert await fingerprint(database) == before


async def test_put_and_delete_on_rebuild_still_name_a_tag_called_rebuild(
    client: httpx.AsyncClient, database: Database
) -> None:
    await database.tags.insert_one(_tag(ALICE, "rebuild", 0, 0))
    renamed = await client.put("/api/tags/rebuild", json={"tag": "redo"}, headers=auth(ALICE))
    assert (renamed.status_code, renamed.json()["tag"]) == (200, "redo")
    deleted = await client.delete("/api/tags/rebuild", headers=auth(ALICE))
    assert deleted.status_code == 404


async def test_rebuild_waits_for_the_users_tag_lock(app: Starlette, database: Database) -> None:
    await _seed(database)
    services: Services = app.state.services
    before = await fingerprint(database)
    async with services.locks.hold(ALICE):
        task = asyncio.create_task(tag_ops.rebuild_tags(services, ALICE))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not task.done()
        assert await fingerprint(database) == before
    tags = await task
    assert [t["count"] for t in tags] == [3, 1, 0, 1]


async def test_graphql_rebuild_tags_returns_every_tag(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    body = await gql(client, "mutation { rebuildTags { tag count position } }", user=ALICE)
    assert body["data"]["rebuildTags"] == [
        {"tag": "work", "count": 3, "position": 0},
        {"tag": "trip", "count": 1, "position": 1},
        {"tag": "unused", "count": 0, "position": 2},
        {"tag": "ghost", "count": 1, "position": 3},
    ]


async def test_rebuild_ignores_conversations_of_an_import_in_progress(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, tags=["done"])
    await insert_conversation(
        database, ALICE, tags=["done", "pending"], _importId="import-1", expiredAt=BASE_TIME
    )
    response = await client.post("/api/tags/rebuild", headers=auth(ALICE))
    assert [(t["tag"], t["count"]) for t in response.json()] == [("done", 1)]
