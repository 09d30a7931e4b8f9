from __future__ import annotations

import pytest

from resolvers.titles.cache import MemoryTitleCache
from resolvers.titles.waiting import GEN_TITLE_DELAYS_S, delays_within, wait_for_title


class TitleArrivesAt:
    """A fake sleep: records each delay and puts a title in the cache after step ``step``."""

    def __init__(self, cache: MemoryTitleCache, key: str, step: int | None) -> None:
        self.cache, self.key, self.step = cache, key, step
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) == self.step:
            await self.cache.put(self.key, "Cooking pasta", ttl_s=120)


def test_default_schedule_is_librechats_backoff() -> None:
    assert GEN_TITLE_DELAYS_S == (0.5, 1.0, 2.0, 4.0, 8.0)
    assert sum(GEN_TITLE_DELAYS_S) == 15.5


async def test_wait_returns_a_title_already_there_without_sleeping() -> None:
    cache = MemoryTitleCache()
    await cache.put("u-c", "Cooking pasta", ttl_s=120)
    sleep = TitleArrivesAt(cache, "u-c", step=None)
    assert await wait_for_title(cache, "u-c", sleep=sleep) == "Cooking pasta"
    assert sleep.delays == []


@pytest.mark.parametrize("step", [1, 2, 3, 4, 5])
async def test_wait_returns_as_soon_as_the_title_appears(step: int) -> None:
    cache = MemoryTitleCache()
    sleep = TitleArrivesAt(cache, "u-c", step=step)
    assert await wait_for_title(cache, "u-c", sleep=sleep) == "Cooking pasta"
    assert sleep.delays == list(GEN_TITLE_DELAYS_S[:step])


async def test_wait_takes_the_title_so_a_second_wait_finds_none() -> None:
    cache = MemoryTitleCache()
    sleep = TitleArrivesAt(cache, "u-c", step=2)
    assert await wait_for_title(cache, "u-c", sleep=sleep) == "Cooking pasta"
    assert await wait_for_title(cache, "u-c", sleep=TitleArrivesAt(cache, "u-c", None)) is None


async def test_wait_sleeps_through_the_whole_schedule_and_gives_up() -> None:
    cache = MemoryTitleCache()
    sleep = TitleArrivesAt(cache, "u-c", step=None)
    assert await wait_for_title(cache, "u-c", sleep=sleep) is None
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 8.0]


async def test_wait_ignores_a_title_for_another_user() -> None:
    cache = MemoryTitleCache()
    sleep = TitleArrivesAt(cache, "bob-conv", step=1)
    assert await wait_for_title(cache, "alice-conv", sleep=sleep, delays=(1, 1)) is None
    assert await cache.take("bob-conv") == "Cooking pasta"


async def test_wait_follows_a_custom_schedule() -> None:
    cache = MemoryTitleCache()
    sleep = TitleArrivesAt(cache, "u-c", step=None)
    assert await wait_for_title(cache, "u-c", delays=(0.1, 0.2), sleep=sleep) is None
    assert sleep.delays == [0.1, 0.2]


async def test_wait_reports_a_cache_outage_instead_of_no_title() -> None:
    class BrokenCache(MemoryTitleCache):
        async def take(self, key: str) -> str | None:
            raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        await wait_for_title(
            BrokenCache(), "u-c", sleep=TitleArrivesAt(MemoryTitleCache(), "", None)
        )


def test_delays_within_a_budget_end_at_the_budget() -> None:
    assert delays_within((0.5, 1.0, 2.0, 4.0, 8.0), 2.5) == (0.5, 1.0, 1.0)
    assert delays_within((0.5, 1.0), 10.0) == (0.5, 1.0)
    assert delays_within((0.5, 1.0), 0.0) == ()
