"""Found by the Redis fault test (--run-slow): once the rate limits' Redis is
back, each connection its pool held from before fails one request with 503
("Connection closed by server") instead of reconnecting. Deterministic here:
a restart, then the next duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation
from tests.utils.redis_server import RedisServer


@pytest.fixture
async def limits_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis.log")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_first_limited_request_after_redis_restarts_succeeds(
    database: Database, mongo_uri: str, limits_redis: RedisServer
) -> None:
    settings = make_settings(
        mongo_uri, rate_limit_storage_uri=limits_redis.uri, fork_user_max=100, fork_ip_max=100
    )
    application = create_app(settings, database=database)
    doc = await insert_conversation(database, ALICE)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):

        async def duplicate() -> int:
            response = await client.post(
                "/api/convos/duplicate",
                json={"conversationId": doc["conversationId"]},
                headers=auth(ALICE),
            )
            return response.status_code

        assert await duplicate() == 201
        await asyncio.to_thread(limits_redis.stop)
        await asyncio.to_thread(limits_redis.start)
        assert await duplicate() == 201


async def test_the_first_shared_state_request_after_redis_restarts_succeeds(
    database: Database, mongo_uri: str, limits_redis: RedisServer
) -> None:
    # REDIS_URI's client (persisted queries, events, titles, tag lock) retries
    # a connection from before the restart too.
    settings = make_settings(mongo_uri, redis_uri=limits_redis.uri)
    application = create_app(settings, database=database)
    doc = await insert_conversation(database, ALICE)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):

        async def tag() -> int:
            response = await client.put(
                f"/api/tags/convo/{doc['conversationId']}",
                json={"tags": ["work"]},
                headers=auth(ALICE),
            )
            return response.status_code

        assert await tag() == 200
        await asyncio.to_thread(limits_redis.stop)
        await asyncio.to_thread(limits_redis.start)
        assert await tag() == 200
