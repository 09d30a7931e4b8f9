from __future__ import annotations

from app.settings import Settings
from resolvers.titles.cache import MemoryTitleCache, RedisTitleCache
from resolvers.titles.factories import (
    build_title_cache,
    build_title_generator,
    build_title_service,
)
from resolvers.titles.fallback import FallbackTitleGenerator
from resolvers.titles.generator import AsyncClosable, TitleSource
from resolvers.titles.offline import OfflineTitleGenerator
from resolvers.titles.openai_compatible import OpenAICompatibleTitleGenerator
from tests.resolvers.titles.chat_completions_server import ChatCompletionsServer, completion
from tests.resolvers.titles.conftest import REDIS_URL


async def test_without_an_api_url_the_offline_generator_is_used() -> None:
    assert isinstance(build_title_generator(Settings()), OfflineTitleGenerator)


async def test_with_an_api_url_the_api_generator_falls_back_offline_by_default() -> None:
    generator = build_title_generator(Settings(title_api_base_url="http://127.0.0.1:1/v1"))
    try:
        assert isinstance(generator, FallbackTitleGenerator)
    finally:
        assert isinstance(generator, AsyncClosable)
        await generator.aclose()


async def test_with_fallback_off_the_api_generator_is_used_alone() -> None:
    settings = Settings(title_api_base_url="http://127.0.0.1:1/v1", title_fallback_offline=False)
    generator = build_title_generator(settings)
    try:
        assert isinstance(generator, OpenAICompatibleTitleGenerator)
    finally:
        assert isinstance(generator, AsyncClosable)
        await generator.aclose()


async def test_cache_is_in_memory_without_redis_and_shared_with_it() -> None:
    assert isinstance(build_title_cache(Settings()), MemoryTitleCache)
    cache = build_title_cache(Settings(redis_uri=REDIS_URL))
    try:
        assert isinstance(cache, RedisTitleCache)
    finally:
        await cache.aclose()


async def test_service_built_from_env_titles_through_the_configured_api(
    chat_server: ChatCompletionsServer,
) -> None:
    settings = Settings.from_env(
        {
            "TITLE_API_BASE_URL": chat_server.base_url,
            "TITLE_MODEL": "llama3.2",
            "TITLE_API_KEY": "k",
        }
    )
    chat_server.script(completion("Cooking Pasta"))
    service = build_title_service(settings)
    saved: list[str] = []

    async def save(title: str) -> None:
        saved.append(title)

    try:
        service.schedule("alice", "conv1", [TitleSource("user", "pasta?")], save)
        await service.drain()
        assert saved == ["Cooking Pasta"]
        assert await service.cache.take("alice-conv1") == "Cooking Pasta"
        assert chat_server.requests[0].json()["model"] == "llama3.2"
    finally:
        await service.aclose()
