"""Tag operations of one user arriving at the same time (a client firing
several requests, or two tabs) keep counts true and positions 0..n-1."""

from __future__ import annotations

import asyncio

import httpx

from storage.database import Database
from tests.utils.factories import ALICE, BOB, auth, insert_conversation
from tests.utils.invariants import check_invariants


async def test_concurrent_tag_creations_get_distinct_positions(
    client: httpx.AsyncClient, database: Database
) -> None:
    responses = await asyncio.gather(
        *[
            client.post("/api/tags", json={"tag": f"t{i}"}, headers=auth(user))
            for i in range(8)
            for user in (ALICE, BOB)
        ]
    )
    assert all(r.status_code == 200 for r in responses)
    for user in (ALICE, BOB):
        await check_invariants(database, user)
        assert await database.tags.count_documents({"user": user}) == 8


async def test_concurrent_tagging_of_many_conversations(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = [await insert_conversation(database, ALICE) for _ in range(6)]
    requests = (
        [
            client.put(
                f"/api/tags/convo/{d['conversationId']}",
                json={"tags": ["x", f"y{i}"]},
                headers=auth(ALICE),
            )
            for i, d in enumerate(docs)
        ]
        + [
            client.post(
                "/api/tags",
                json={"tag": "z", "addToConversation": True, "conversationId": d["conversationId"]},
                headers=auth(ALICE),
            )
            for d in docs
        ]
        + [
            client.request(
                "DELETE",
                "/api/convos",
                json={"arg": {"conversationId": d["conversationId"]}},
                headers=auth(ALICE),
            )
            for d in docs[:2]
        ]
    )
    responses = await asyncio.gather(*requests)
    assert all(r.status_code in (200, 201, 404) for r in responses), [r.text for r in responses]
    await check_invariants(database, ALICE)
    tags = {t["tag"]: t for t in await database.tags.find({"user": ALICE}).to_list(None)}
    assert set(tags) == {"x", "z", *(f"y{i}" for i in range(6))}
