"""The race the load test found, made deterministic: a tag deleted while a
fork is being written must not stay on the copy without a tag document.

The copy is inserted with the source's tags outside the user's tag lock
(only the recount after it is locked), so a delete that runs between the
fork's read of the source and its insert leaves the copy carrying the tag.
The test holds the insert until the delete has run (or for at most 2 s, so
that a fix which takes the lock first lets the delete wait instead).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import storage.conversations
from storage.database import Database
from tests.utils.factories import ALICE, auth, insert_conversation, insert_thread
from tests.utils.invariants import survey_store


async def test_a_tag_deleted_while_a_fork_is_written_does_not_stay_on_the_copy(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await insert_conversation(database, ALICE, title="src")
    (message, *_) = await insert_thread(database, ALICE, source["conversationId"], ["q", "a"])
    response = await client.put(
        f"/api/tags/convo/{source['conversationId']}", json={"tags": ["work"]}, headers=auth(ALICE)
    )
    assert response.status_code == 200
    original = storage.conversations.insert
    deleting: list[asyncio.Task[httpx.Response]] = []

    async def insert_after_a_delete(db: Database, doc: dict[str, Any]) -> None:
        deleting.append(asyncio.create_task(client.delete("/api/tags/work", headers=auth(ALICE))))
        await asyncio.wait(deleting, timeout=2.0)
        await original(db, doc)

    monkeypatch.setattr(storage.conversations, "insert", insert_after_a_delete)
    response = await client.post(
        "/api/convos/fork",
        json={"conversationId": source["conversationId"], "messageId": message["messageId"]},
        headers=auth(ALICE),
    )
    assert response.status_code == 200
    assert (await deleting[0]).status_code == 200

    survey = await survey_store(database, [ALICE])
    assert not survey.kinds(), dict(survey.problems)
