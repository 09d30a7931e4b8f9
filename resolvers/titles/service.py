"""Generate titles in the background and hand them to the route and the app."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence

from resolvers.titles.cache import TitleCache, title_cache_key
from resolvers.titles.generator import (
    SOURCE_MAX_CHARS,
    AsyncClosable,
    TitleGenerationError,
    TitleGenerator,
    TitleSource,
    first_text,
)

logger = logging.getLogger(__name__)

MAX_CONCURRENT_GENERATIONS = 4
"""Titles generated at once: an import of hundreds must not flood the title API."""
MAX_PENDING_GENERATIONS = 1000
"""Titles queued at most; beyond, new requests are dropped (and logged)."""

OnTitle = Callable[[str], Awaitable[None]]


class TitleService:
    """Runs title generation off the request path.

    Owns its generator and cache: :meth:`aclose` cancels what is still
    running and closes both. The route reads titles through :attr:`cache`.
    """

    def __init__(
        self,
        generator: TitleGenerator,
        cache: TitleCache,
        *,
        ttl_s: float,
        max_concurrency: int = MAX_CONCURRENT_GENERATIONS,
        max_pending: int = MAX_PENDING_GENERATIONS,
    ) -> None:
        """Create the service.

        Args:
            generator: makes the titles.
            cache: where titles wait for the route.
            ttl_s: how long a title waits there.
            max_concurrency: generations running at once.
            max_pending: generations scheduled (running or queued) at once.
        """
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive: a title nobody can read is wasted work")
        if max_concurrency < 1 or max_pending < 1:
            raise ValueError("max_concurrency and max_pending must be at least 1")
        self.generator = generator
        self.cache = cache
        self._ttl_s = ttl_s
        self._max_pending = max_pending
        self._slots = asyncio.Semaphore(max_concurrency)
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    @property
    def pending(self) -> int:
        """Generations scheduled and not finished."""
        return sum(1 for task in self._tasks.values() if not task.done())

    def schedule(
        self,
        user_id: str,
        conversation_id: str,
        sources: Sequence[TitleSource],
        on_title: OnTitle,
    ) -> bool:
        """Start generating a title for a conversation, without waiting for it.

        When the title is ready, ``on_title(title)`` runs (the app saves it
        on the conversation); once it succeeded, the title goes into the
        cache under ``<user>-<conversationId>`` for the gen_title route. A
        failure anywhere is logged, never raised: the route then answers
        its 404, as LibreChat does when no title arrives.

        Must be called from a running event loop.

        Args:
            user_id: the conversation's owner.
            conversation_id: the conversation to title.
            sources: its first user message and first assistant reply.
            on_title: persists the title; if it raises, the title is not cached.

        Returns:
            True if a generation started; False if one for the same
            conversation is already running, the queue is full, or the
            service is closed.
        """
        key = title_cache_key(user_id, conversation_id)
        if self._closed:
            logger.debug("title service closed; not titling %s", key)
            return False
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return False
        if self.pending >= self._max_pending:
            logger.warning("title queue full (%d); not titling %s", self._max_pending, key)
            return False
        # Keep only what a generator reads, so a queued task holds little memory.
        kept = tuple(
            TitleSource(role, text[:SOURCE_MAX_CHARS])
            for role in ("user", "assistant")
            if (text := first_text(sources, role))
        )
        # A fresh context: the task outlives the request that scheduled it and
        # must not inherit its database deadline (pymongo.timeout).
        task = asyncio.get_running_loop().create_task(
            self._run(key, kept, on_title), name=f"title:{key}", context=contextvars.Context()
        )
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return True

    async def drain(self) -> None:
        """Wait until every scheduled generation has finished (tests, graceful shutdown)."""
        while pending := [task for task in self._tasks.values() if not task.done()]:
            # asyncio.wait, unlike gather, leaves the tasks alone if the caller is cancelled.
            await asyncio.wait(pending)

    async def aclose(self) -> None:
        """Cancel and await outstanding generations, then close generator and cache."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if isinstance(self.generator, AsyncClosable):
            await self.generator.aclose()
        await self.cache.aclose()

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _run(self, key: str, sources: tuple[TitleSource, ...], on_title: OnTitle) -> None:
        async with self._slots:
            try:
                title = await self.generator.generate(sources)
            except TitleGenerationError as exc:
                logger.warning("no title for %s: %s", key, exc)
                return
            except Exception:
                logger.exception("title generator crashed for %s", key)
                return
        if not title.strip():
            logger.warning("title generator returned an empty title for %s", key)
            return
        try:
            await on_title(title)
        except Exception:
            # A title the conversation does not carry would vanish on reload;
            # without it the route answers 404 and a later call retries.
            logger.exception("saving the generated title failed for %s", key)
            return
        try:
            await self.cache.put(key, title, self._ttl_s)
        except Exception:
            logger.exception("caching the generated title failed for %s", key)
