from __future__ import annotations

import logging

import pytest

from resolvers.titles.fallback import FallbackTitleGenerator
from resolvers.titles.generator import TitleGenerationError, TitleSource
from resolvers.titles.offline import OfflineTitleGenerator
from resolvers.titles.openai_compatible import OpenAICompatibleTitleGenerator
from tests.resolvers.titles.chat_completions_server import ChatCompletionsServer, Reply
from tests.resolvers.titles.conftest import SleepRecorder
from tests.resolvers.titles.fakes import FailingGenerator, StaticGenerator

SOURCES = [TitleSource("user", "How do I cook pasta?")]


async def test_fallback_uses_the_primary_title_when_it_succeeds() -> None:
    primary, fallback = StaticGenerator("From the API"), StaticGenerator("Offline")
    assert await FallbackTitleGenerator(primary, fallback).generate(SOURCES) == "From the API"
    assert fallback.calls == []


async def test_fallback_uses_the_fallback_and_warns_when_the_primary_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    generator = FallbackTitleGenerator(FailingGenerator(), StaticGenerator("Offline"))
    with caplog.at_level(logging.WARNING, logger="resolvers.titles.fallback"):
        assert await generator.generate(SOURCES) == "Offline"
    assert "the API is down" in caplog.text


async def test_fallback_lets_a_bug_in_the_primary_propagate() -> None:
    fallback = StaticGenerator("Offline")
    generator = FallbackTitleGenerator(FailingGenerator(KeyError("bug")), fallback)
    with pytest.raises(KeyError):
        await generator.generate(SOURCES)
    assert fallback.calls == []


async def test_fallback_raises_when_both_generators_fail() -> None:
    generator = FallbackTitleGenerator(FailingGenerator(), FailingGenerator())
    with pytest.raises(TitleGenerationError):
        await generator.generate(SOURCES)


async def test_fallback_from_a_failing_api_to_the_offline_generator(
    chat_server: ChatCompletionsServer, sleep: SleepRecorder
) -> None:
    chat_server.script(Reply(500), Reply(500))
    api = OpenAICompatibleTitleGenerator(
        chat_server.base_url, model="m", max_retries=1, backoff_s=0, sleep=sleep
    )
    generator = FallbackTitleGenerator(api, OfflineTitleGenerator())
    try:
        assert await generator.generate(SOURCES) == "How to cook pasta"
    finally:
        await generator.aclose()
    assert len(chat_server.requests) == 2


async def test_fallback_aclose_closes_both_generators() -> None:
    primary, fallback = StaticGenerator("a"), StaticGenerator("b")
    await FallbackTitleGenerator(primary, fallback).aclose()
    assert primary.closed and fallback.closed
