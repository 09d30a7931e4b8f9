"""POST /api/convos/archive/all and GraphQL archiveAllConversations
(docs/contract.md#convos-archive-all): the listed conversations, one archivedAt,
updatedAt kept, other users and bad bodies untouched."""

from __future__ import annotations

from datetime import timedelta

import httpx

from storage.database import Database
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    auth,
    conversation_doc,
    fingerprint,
    insert_conversation,
)
from tests.utils.http import gql

EARLIER = BASE_TIME - timedelta(days=3)


async def _seed(database: Database) -> dict[str, str]:
    docs = {
        "listed": conversation_doc(ALICE, updatedAt=BASE_TIME - timedelta(hours=1)),
        "legacy": conversation_doc(ALICE, updatedAt=BASE_TIME - timedelta(hours=2)),
        "pinned": conversation_doc(ALICE, pinned=True),
        "archived": conversation_doc(ALICE, isArchived=True, archivedAt=EARLIER),
        "temporary": conversation_doc(ALICE, expiredAt=BASE_TIME + timedelta(days=30)),
        "bobs": conversation_doc(BOB),
    }
    del docs["legacy"]["isArchived"]  # an old document without the flag is listed too
    await database.conversations.insert_many(list(docs.values()))
    return {name: doc["conversationId"] for name, doc in docs.items()}


async def _by_name(database: Database, ids: dict[str, str]) -> dict[str, dict[str, object]]:
    docs = await database.conversations.find({}).to_list(None)
    by_id = {d["conversationId"]: d for d in docs}
    return {name: by_id[cid] for name, cid in ids.items()}


async def test_archive_all_archives_the_listed_conversations_with_one_archived_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    before = await _by_name(database, ids)
    response = await client.post("/api/convos/archive/all", json={}, headers=auth(ALICE))
    assert response.status_code == 200
    assert response.json() == {"archivedCount": 3}
    after = await _by_name(database, ids)
    swept = [after[name] for name in ("listed", "legacy", "pinned")]
    assert all(d["isArchived"] is True for d in swept)
    stamps = {d["archivedAt"] for d in swept}
    assert len(stamps) == 1 and None not in stamps
    for name in ("listed", "legacy", "pinned"):
        assert after[name]["updatedAt"] == before[name]["updatedAt"]
    for name in ("archived", "temporary", "bobs"):
        assert after[name] == before[name]
    listed = await client.get("/api/convos", headers=auth(ALICE))
    assert listed.json()["conversations"] == []


async def test_archive_all_with_nothing_listed_is_zero_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, isArchived=True, archivedAt=EARLIER)
    await insert_conversation(database, BOB)
    before = await fingerprint(database)
    response = await client.post("/api/convos/archive/all", json={}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (200, {"archivedCount": 0})
    assert await fingerprint(database) == before


async def test_archive_all_accepts_no_body_like_the_client_sends_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE)
    response = await client.post("/api/convos/archive/all", headers=auth(ALICE))
    assert response.json() == {"archivedCount": 1}


async def test_archive_all_with_a_bad_body_is_400_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    before = await fingerprint(database)
    for content in (b"[]", b"{nope", b'{"$where": 1}'):
        response = await client.post(
            "/api/convos/archive/all",
            content=content,
            headers={**auth(ALICE), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, content
        assert set(response.json()) == {"error"}
    assert await fingerprint(database) == before


async def test_archive_all_without_a_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    before = await fingerprint(database)
    response = await client.post("/api/convos/archive/all", json={})
    assert response.status_code == 401
    assert await fingerprint(database) == before


async def test_graphql_archive_all_conversations_answers_the_count(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    body = await gql(client, "mutation { archiveAllConversations { archivedCount } }", user=ALICE)
    assert body == {"data": {"archiveAllConversations": {"archivedCount": 3}}}
    after = await _by_name(database, ids)
    assert after["bobs"]["isArchived"] is False
    assert after["temporary"]["isArchived"] is False
