"""Search through the index: a message written straight to MongoDB becomes
findable, in both feed modes, and a restart catches up what happened while
the gateway was down (issue 10, items 1 and 2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, message_doc

MODES = ["changestream", "poll"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _index_ready(app: Starlette) -> None:
    index = app.state.services.search_index
    async with asyncio.timeout(10):
        while not index.ready:
            await asyncio.sleep(0.02)


async def _found(client: httpx.AsyncClient, term: str, cid: str) -> None:
    """Search until the conversation is listed (bounded; no timing asserted)."""
    async with asyncio.timeout(10):
        while True:
            response = await client.get("/api/convos", params={"search": term}, headers=auth(ALICE))
            assert response.status_code == 200
            if [c["conversationId"] for c in response.json()["conversations"]] == [cid]:
                return
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", MODES)
async def test_a_message_written_straight_to_mongodb_becomes_findable(
    mongo_uri: str, database: Database, mode: str
) -> None:
    settings = make_settings(mongo_uri, change_feed=mode, change_feed_poll_s=0.2)
    conversation = await insert_conversation(database, ALICE, title="Plain", updatedAt=_now())
    cid = conversation["conversationId"]
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app), _client(app) as client:
        await _index_ready(app)
        await database.messages.insert_one(
            message_doc(ALICE, cid, text="Ein Quokka-Foto", created_at=_now())
        )
        await _found(client, "QUOKKA", cid)


@pytest.mark.parametrize("mode", MODES)
async def test_a_restart_keeps_the_index_and_catches_up_what_happened_while_down(
    mongo_uri: str, database: Database, mode: str, tmp_path: Path
) -> None:
    settings = make_settings(
        mongo_uri,
        change_feed=mode,
        change_feed_poll_s=0.2,
        search_index_path=tmp_path / "index.sqlite3",
    )
    conversation = await insert_conversation(database, ALICE, title="Plain", updatedAt=_now())
    cid = conversation["conversationId"]
    first = create_app(settings, database=database)
    async with first.router.lifespan_context(first):
        await _index_ready(first)
    await database.messages.insert_one(
        message_doc(ALICE, cid, text="written while the gateway was down", created_at=_now())
    )
    second = create_app(settings, database=database)
    async with second.router.lifespan_context(second), _client(second) as client:
        # The file survived: no rebuild needed before the index answers.
        assert second.state.services.search_index.ready
        await _found(client, "while the gateway", cid)
        assert second.state.services.search_index.rows_indexed == 0  # never rebuilt
