from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from resolvers.titles.cache import MemoryTitleCache, title_cache_key
from resolvers.titles.generator import SOURCE_MAX_CHARS, TitleGenerationError, TitleSource
from resolvers.titles.offline import OfflineTitleGenerator
from resolvers.titles.service import TitleService
from resolvers.titles.waiting import wait_for_title
from tests.resolvers.titles.fakes import FailingGenerator, GatedGenerator, StaticGenerator

SOURCES = [
    TitleSource("user", "How do I cook pasta?"),
    TitleSource("assistant", "Boil salted water first."),
]


class SavedTitles:
    """The app's on_title: records what would be saved on the conversation."""

    def __init__(self, error: Exception | None = None) -> None:
        self.titles: list[str] = []
        self.error = error

    async def __call__(self, title: str) -> None:
        if self.error is not None:
            raise self.error
        self.titles.append(title)


MakeService = Callable[..., TitleService]


async def settle() -> None:
    """Let scheduled tasks run until they block (zero-delay yields, no clock)."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
async def make_service() -> AsyncIterator[MakeService]:
    made: list[TitleService] = []

    def make(generator: object, **options: object) -> TitleService:
        cache = options.pop("cache", MemoryTitleCache())
        service = TitleService(generator, cache, ttl_s=120, **options)  # type: ignore[arg-type]
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


async def test_scheduled_title_is_saved_then_cached_under_the_users_key(
    make_service: MakeService,
) -> None:
    service = make_service(StaticGenerator("Cooking pasta"))
    saved = SavedTitles()
    assert service.schedule("alice", "conv1", SOURCES, saved) is True
    await service.drain()
    assert saved.titles == ["Cooking pasta"]
    assert await service.cache.take(title_cache_key("alice", "conv1")) == "Cooking pasta"
    assert await service.cache.take(title_cache_key("bob", "conv1")) is None


async def test_schedule_returns_before_the_generation_finishes(
    make_service: MakeService,
) -> None:
    generator = GatedGenerator()
    service = make_service(generator)
    saved = SavedTitles()
    assert service.schedule("alice", "conv1", SOURCES, saved) is True
    assert service.pending == 1
    assert saved.titles == []
    generator.release()
    await service.drain()
    assert saved.titles == ["Gated title"]
    assert service.pending == 0


async def test_concurrent_requests_for_one_conversation_generate_once(
    make_service: MakeService,
) -> None:
    generator = GatedGenerator()
    service = make_service(generator)
    saved = SavedTitles()
    assert service.schedule("alice", "conv1", SOURCES, saved) is True
    assert service.schedule("alice", "conv1", SOURCES, saved) is False
    assert service.schedule("bob", "conv1", SOURCES, saved) is True
    generator.release()
    await service.drain()
    assert generator.calls == 2
    assert saved.titles == ["Gated title", "Gated title"]


async def test_a_finished_conversation_can_be_titled_again(make_service: MakeService) -> None:
    generator = StaticGenerator("Cooking pasta")
    service = make_service(generator)
    assert service.schedule("alice", "conv1", SOURCES, SavedTitles()) is True
    await service.drain()
    assert service.schedule("alice", "conv1", SOURCES, SavedTitles()) is True
    await service.drain()
    assert len(generator.calls) == 2


@pytest.mark.parametrize("error", [TitleGenerationError("API down"), RuntimeError("bug")])
async def test_a_failing_generator_never_raises_into_the_caller_and_is_logged(
    error: Exception, make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(FailingGenerator(error))
    saved = SavedTitles()
    with caplog.at_level(logging.WARNING, logger="resolvers.titles.service"):
        assert service.schedule("alice", "conv1", SOURCES, saved) is True
        await service.drain()
    assert saved.titles == []
    assert await service.cache.take(title_cache_key("alice", "conv1")) is None
    assert "alice-conv1" in caplog.text


async def test_a_title_that_could_not_be_saved_is_not_served(
    make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(StaticGenerator("Cooking pasta"))
    with caplog.at_level(logging.ERROR, logger="resolvers.titles.service"):
        service.schedule("alice", "conv1", SOURCES, SavedTitles(ConnectionError("mongo down")))
        await service.drain()
    assert await service.cache.take(title_cache_key("alice", "conv1")) is None
    assert "saving the generated title failed" in caplog.text


async def test_an_empty_title_is_neither_saved_nor_cached(make_service: MakeService) -> None:
    service = make_service(StaticGenerator("   "))
    saved = SavedTitles()
    service.schedule("alice", "conv1", SOURCES, saved)
    await service.drain()
    assert saved.titles == []
    assert await service.cache.take(title_cache_key("alice", "conv1")) is None


async def test_generations_run_at_most_max_concurrency_at_once(make_service: MakeService) -> None:
    generator = GatedGenerator()
    service = make_service(generator, max_concurrency=2)
    for n in range(5):
        service.schedule("alice", f"conv{n}", SOURCES, SavedTitles())
    await settle()
    assert (generator.running, service.pending) == (2, 5)
    generator.release()
    await service.drain()
    assert generator.calls == 5
    assert generator.most_running == 2


async def test_schedule_refuses_beyond_max_pending(
    make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    generator = GatedGenerator()
    service = make_service(generator, max_pending=1)
    with caplog.at_level(logging.WARNING, logger="resolvers.titles.service"):
        assert service.schedule("alice", "conv1", SOURCES, SavedTitles()) is True
        assert service.schedule("alice", "conv2", SOURCES, SavedTitles()) is False
    assert "queue full" in caplog.text
    generator.release()
    await service.drain()


async def test_schedule_keeps_only_the_first_messages_bounded(make_service: MakeService) -> None:
    generator = StaticGenerator("T")
    service = make_service(generator)
    sources = [
        TitleSource("assistant", "a" * 5000),
        TitleSource("user", "u" * 5000),
        TitleSource("user", "second user message"),
    ]
    service.schedule("alice", "conv1", sources, SavedTitles())
    await service.drain()
    [seen] = generator.calls
    assert [(s.role, s.text) for s in seen] == [
        ("user", "u" * SOURCE_MAX_CHARS),
        ("assistant", "a" * SOURCE_MAX_CHARS),
    ]


async def test_aclose_cancels_outstanding_generations_and_refuses_new_ones() -> None:
    generator = GatedGenerator()
    cache = MemoryTitleCache()
    service = TitleService(generator, cache, ttl_s=120)
    saved = SavedTitles()
    service.schedule("alice", "conv1", SOURCES, saved)
    await settle()
    assert generator.running == 1
    await service.aclose()
    assert service.pending == 0
    assert generator.running == 0
    assert saved.titles == []
    assert service.schedule("alice", "conv2", SOURCES, saved) is False


async def test_aclose_closes_generator_and_cache() -> None:
    generator = StaticGenerator("T")
    cache = MemoryTitleCache()
    await cache.put("k", "v", ttl_s=60)
    await TitleService(generator, cache, ttl_s=60).aclose()
    assert generator.closed
    assert len(cache) == 0


@pytest.mark.parametrize(
    "options", [{"ttl_s": 0}, {"ttl_s": 1, "max_concurrency": 0}, {"ttl_s": 1, "max_pending": 0}]
)
def test_service_rejects_impossible_limits(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TitleService(StaticGenerator("T"), MemoryTitleCache(), **options)  # type: ignore[arg-type]


async def test_route_flow_waiting_client_receives_the_background_title(
    make_service: MakeService,
) -> None:
    # What the gen_title route does: schedule, then wait with the backoff.
    # The fake sleep lets the background task finish instead of sleeping.
    service = make_service(OfflineTitleGenerator())
    saved = SavedTitles()
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await service.drain()

    service.schedule("alice", "conv1", SOURCES, saved)
    key = title_cache_key("alice", "conv1")
    assert await wait_for_title(service.cache, key, sleep=sleep) == "How to cook pasta"
    assert saved.titles == ["How to cook pasta"]
    assert delays == [0.5]
    assert await service.cache.take(key) is None
