from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.resolvers.titles.chat_completions_server import ChatCompletionsServer

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatCompletionsServer]:
    server = ChatCompletionsServer()
    await server.start()
    yield server
    await server.aclose()


class SleepRecorder:
    """A fake ``asyncio.sleep`` that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"test-gen-title-{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_clients() -> AsyncIterator[tuple[Redis, Redis]]:
    """Two independent clients: two gateway processes sharing one Redis."""
    first = Redis.from_url(REDIS_URL, decode_responses=True)
    second = Redis.from_url(REDIS_URL, decode_responses=True)
    yield first, second
    await first.aclose()
    await second.aclose()
