"""How the gen_title route waits for a title generated in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from resolvers.titles.cache import TitleCache

GEN_TITLE_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
"""LibreChat's backoff: about 15.5 s in all, then the route answers 404."""


def delays_within(delays: Sequence[float], budget_s: float) -> tuple[float, ...]:
    """``delays`` cut so that they add up to at most ``budget_s``.

    The last delay is shortened to end at the budget, so the final check
    still happens as late as the caller can afford.
    """
    fitted: list[float] = []
    left = budget_s
    for delay in delays:
        if left <= 0:
            break
        fitted.append(min(delay, left))
        left -= delay
    return tuple(fitted)


async def wait_for_title(
    cache: TitleCache,
    key: str,
    *,
    delays: Sequence[float] = GEN_TITLE_DELAYS_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> str | None:
    """Take the title under ``key``, polling through ``delays`` until it appears.

    Checks once at once, then after each delay, and returns as soon as a
    title is there. The read removes it (see :class:`TitleCache`).

    Args:
        cache: where the background generation puts titles.
        key: ``title_cache_key(user_id, conversation_id)``.
        delays: seconds to wait before each further check.
        sleep: the wait, replaceable in tests by a fake clock.

    Returns:
        The title, or None when none arrived within the schedule.

    Raises:
        Exception: whatever the cache raises (e.g. Redis unreachable): an
            outage is reported as one, not as "no title yet".
    """
    title = await cache.take(key)
    for delay in delays:
        if title is not None:
            break
        await sleep(delay)
        title = await cache.take(key)
    return title
