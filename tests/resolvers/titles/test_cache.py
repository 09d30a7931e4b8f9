from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from resolvers.titles.cache import (
    REDIS_KEY_PREFIX,
    MemoryTitleCache,
    RedisTitleCache,
    title_cache_key,
)
from tests.resolvers.titles.conftest import REDIS_URL


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_title_cache_key_is_librechats_user_dash_conversation() -> None:
    assert title_cache_key("user1", "conv-9") == "user1-conv-9"


def test_title_cache_keys_differ_between_users_for_the_same_conversation() -> None:
    assert title_cache_key("alice", "conv") != title_cache_key("bob", "conv")


# --- in memory ---------------------------------------------------------------


async def test_memory_take_returns_the_title_once() -> None:
    cache = MemoryTitleCache()
    await cache.put("u-c", "Cooking pasta", ttl_s=120)
    assert await cache.take("u-c") == "Cooking pasta"
    assert await cache.take("u-c") is None


async def test_memory_take_of_another_users_key_finds_nothing_and_leaves_the_title() -> None:
    cache = MemoryTitleCache()
    await cache.put(title_cache_key("alice", "conv"), "Alice's title", ttl_s=120)
    assert await cache.take(title_cache_key("bob", "conv")) is None
    assert await cache.take(title_cache_key("alice", "conv")) == "Alice's title"


async def test_memory_title_expires_after_its_ttl() -> None:
    clock = FakeClock()
    cache = MemoryTitleCache(clock=clock)
    await cache.put("u-c", "Cooking pasta", ttl_s=120)
    clock.now += 120
    assert await cache.take("u-c") is None


async def test_memory_title_is_there_until_its_ttl() -> None:
    clock = FakeClock()
    cache = MemoryTitleCache(clock=clock)
    await cache.put("u-c", "Cooking pasta", ttl_s=120)
    clock.now += 119.9
    assert await cache.take("u-c") == "Cooking pasta"


async def test_memory_put_replaces_the_title_and_its_expiry() -> None:
    clock = FakeClock()
    cache = MemoryTitleCache(clock=clock)
    await cache.put("u-c", "First", ttl_s=10)
    clock.now += 5
    await cache.put("u-c", "Second", ttl_s=10)
    clock.now += 8
    assert await cache.take("u-c") == "Second"


async def test_memory_cache_evicts_the_oldest_entry_beyond_its_bound() -> None:
    cache = MemoryTitleCache(max_entries=2)
    for key in ("a", "b", "c"):
        await cache.put(key, key.upper(), ttl_s=60)
    assert len(cache) == 2
    assert await cache.take("a") is None
    assert [await cache.take("b"), await cache.take("c")] == ["B", "C"]


async def test_memory_cache_drops_expired_entries_when_putting() -> None:
    clock = FakeClock()
    cache = MemoryTitleCache(clock=clock)
    await cache.put("old", "Old", ttl_s=1)
    clock.now += 2
    await cache.put("new", "New", ttl_s=1)
    assert len(cache) == 1


@pytest.mark.parametrize("ttl_s", [0, -1])
async def test_memory_put_rejects_a_ttl_that_is_not_positive(ttl_s: float) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await MemoryTitleCache().put("k", "t", ttl_s=ttl_s)


# --- Redis -------------------------------------------------------------------


async def test_redis_title_put_by_one_instance_is_taken_by_another_once(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    first = RedisTitleCache(redis_clients[0], prefix=redis_prefix)
    second = RedisTitleCache(redis_clients[1], prefix=redis_prefix)
    await first.put("alice-conv", "Cooking pasta", ttl_s=120)
    assert await second.take("alice-conv") == "Cooking pasta"
    assert await first.take("alice-conv") is None
    assert await second.take("alice-conv") is None


async def test_redis_concurrent_takes_from_two_instances_deliver_the_title_once(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    first = RedisTitleCache(redis_clients[0], prefix=redis_prefix)
    second = RedisTitleCache(redis_clients[1], prefix=redis_prefix)
    await first.put("alice-conv", "Cooking pasta", ttl_s=120)
    results = await asyncio.gather(first.take("alice-conv"), second.take("alice-conv"))
    assert sorted(results, key=str) == ["Cooking pasta", None]


async def test_redis_take_of_another_users_key_finds_nothing(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    cache = RedisTitleCache(redis_clients[0], prefix=redis_prefix)
    await cache.put(title_cache_key("alice", "conv"), "Alice's title", ttl_s=120)
    assert await cache.take(title_cache_key("bob", "conv")) is None
    assert await cache.take(title_cache_key("alice", "conv")) == "Alice's title"


async def test_redis_put_sets_the_ttl_in_milliseconds_under_the_prefix(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    client = redis_clients[0]
    await RedisTitleCache(client, prefix=redis_prefix).put("alice-conv", "T", ttl_s=1.5)
    ttl_ms = await client.pttl(redis_prefix + "alice-conv")
    assert 0 < ttl_ms <= 1500


async def test_redis_cache_keeps_unicode_titles_intact(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    cache = RedisTitleCache(redis_clients[0], prefix=redis_prefix)
    await cache.put("k", "Как приготовить борщ 🍲", ttl_s=60)
    assert await cache.take("k") == "Как приготовить борщ 🍲"


async def test_redis_cache_decodes_a_client_returning_bytes(redis_prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)  # decode_responses defaults to False
    try:
        cache = RedisTitleCache(client, prefix=redis_prefix)
        await cache.put("k", "パスタの作り方", ttl_s=60)
        assert await cache.take("k") == "パスタの作り方"
    finally:
        await client.aclose()


async def test_redis_cache_from_url_uses_librechats_namespace_and_closes_its_client() -> None:
    cache = RedisTitleCache.from_url(REDIS_URL)
    key = "test-from-url-user-conv"
    try:
        await cache.put(key, "T", ttl_s=5)
        assert await cache.take(key) == "T"
    finally:
        await cache.aclose()
    assert REDIS_KEY_PREFIX == "GEN_TITLE:"


async def test_redis_aclose_leaves_a_shared_client_open(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    client = redis_clients[0]
    await RedisTitleCache(client, prefix=redis_prefix).aclose()
    assert await client.ping()


@pytest.mark.parametrize("ttl_s", [0, -5])
async def test_redis_put_rejects_a_ttl_that_is_not_positive(
    redis_clients: tuple[Redis, Redis], redis_prefix: str, ttl_s: float
) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await RedisTitleCache(redis_clients[0], prefix=redis_prefix).put("k", "t", ttl_s=ttl_s)
