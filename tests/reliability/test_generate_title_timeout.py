"""Found by the GraphQL fuzz run: ``generateTitle`` on a conversation whose
title will not come waits LibreChat's backoff (about 15.5 s) before its
documented NOT_FOUND, longer than GRAPHQL_TIMEOUT_S (10 s), so it answers
503 TIMEOUT instead. Shown here with a 1 s timeout, to keep the test short.
"""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, insert_thread


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri, execution_timeout_s=1.0)


async def test_generate_title_without_a_title_to_come_is_not_found_within_the_timeout(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Already titled")
    await insert_thread(database, ALICE, doc["conversationId"], ["q", "a"])
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($c: String!) { generateTitle(conversationId: $c) }",
            "variables": {"c": doc["conversationId"]},
        },
        headers=auth(ALICE),
    )
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
