"""Found by the load test (--run-slow): GRAPHQL_TIMEOUT_S cancels a mutation
between its writes. A fork whose recount waits (on the user's tag lock, under
load) past the timeout answers 503 TIMEOUT, yet its copy is stored, carrying
the source's tags, and their counts are never recomputed: one short.

Deterministic here: a 1 s timeout, and the recount's read made slow.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import storage.conversations
from app.settings import Settings
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, insert_thread
from tests.utils.invariants import survey_store

FORK = """
mutation($c: String!, $m: String!) {
  forkConversation(input: {conversationId: $c, messageId: $m}) { conversation { title } }
}"""


@pytest.fixture(params=["execution_timeout_s", "request_timeout_s"])
def settings(mongo_uri: str, request: pytest.FixtureRequest) -> Settings:
    # GRAPHQL_TIMEOUT_S itself, or REQUEST_TIMEOUT_S (its default): the
    # request's database deadline (maxTimeMS) must not cut a mutation either.
    return make_settings(mongo_uri, **{request.param: 1.0})


async def test_a_fork_stopped_by_the_timeout_leaves_true_tag_counts(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await insert_conversation(database, ALICE, title="src")
    (message, *_) = await insert_thread(database, ALICE, source["conversationId"], ["q", "a"])
    response = await client.put(
        f"/api/tags/convo/{source['conversationId']}", json={"tags": ["work"]}, headers=auth(ALICE)
    )
    assert response.status_code == 200
    original = storage.conversations.tag_counts

    async def slow_tag_counts(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(2.0)  # as if queued behind the user's other tag operations
        return await original(*args, **kwargs)

    monkeypatch.setattr(storage.conversations, "tag_counts", slow_tag_counts)
    response = await client.post(
        "/graphql",
        json={
            "query": FORK,
            "variables": {"c": source["conversationId"], "m": message["messageId"]},
        },
        headers=auth(ALICE),
    )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    await asyncio.sleep(2.5)  # whatever the fork still does in the background, let it finish

    survey = await survey_store(database, [ALICE])
    assert not survey.kinds(), dict(survey.problems)
