"""Where generated titles wait for the route, read once and then gone.

As in LibreChat, a title sits under ``<user>-<conversationId>`` for a
couple of minutes and the first read removes it. One-shot reads make two
concurrent polls for the same conversation safe: exactly one gets the title.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from resolvers.adapters.redis_retry import stale_connection_retry

REDIS_KEY_PREFIX = "GEN_TITLE:"
"""LibreChat's cache namespace for titles, so an operator recognises the keys."""
MEMORY_MAX_ENTRIES = 10_000
"""Bound of the in-memory cache: titles nobody polled must not grow memory."""


def title_cache_key(user_id: str, conversation_id: str) -> str:
    """The cache key LibreChat uses: ``<user>-<conversationId>``."""
    return f"{user_id}-{conversation_id}"


class TitleCache(Protocol):
    """A short-lived, read-once store of generated titles."""

    async def put(self, key: str, title: str, ttl_s: float) -> None:
        """Store ``title`` under ``key`` for ``ttl_s`` seconds, replacing any earlier one."""
        ...

    async def take(self, key: str) -> str | None:
        """Return the title under ``key`` and remove it, atomically; None if absent or expired."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _check_ttl(ttl_s: float) -> None:
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")


class MemoryTitleCache:
    """One process's title cache: bounded, expiring, oldest entries evicted first.

    Right for a single gateway process; replicas need :class:`RedisTitleCache`,
    since a poll may land on another process than the one that generated.
    """

    def __init__(
        self,
        *,
        max_entries: int = MEMORY_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty cache.

        Args:
            max_entries: entries kept; putting one more evicts the oldest.
            clock: monotonic seconds, replaceable in tests.
        """
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def put(self, key: str, title: str, ttl_s: float) -> None:
        """Store ``title`` under ``key`` until ``ttl_s`` seconds from now."""
        _check_ttl(ttl_s)
        now = self._clock()
        self._entries.pop(key, None)
        self._entries[key] = (now + ttl_s, title)
        self._evict(now)

    async def take(self, key: str) -> str | None:
        """Return and remove the title under ``key``; None if absent or expired."""
        # No await between the read and the delete: atomic under asyncio.
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        expires_at, title = entry
        return title if self._clock() < expires_at else None

    async def aclose(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, now: float) -> None:
        # Oldest first: drop expired entries at the front, then the oldest while
        # over the bound. An expired entry behind a live one (a longer TTL put
        # earlier) stays until taken or evicted; the bound holds either way.
        while self._entries:
            key, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now and len(self._entries) <= self._max_entries:
                break
            del self._entries[key]


class RedisTitleCache:
    """A title cache shared by every gateway process through Redis.

    ``take`` is a single ``GETDEL`` (Redis 6.2+), so two replicas polling
    the same key cannot both receive the title.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = REDIS_KEY_PREFIX,
        owns_client: bool = False,
    ) -> None:
        """Wrap a client.

        Args:
            client: a ``redis.asyncio`` client; bytes and str replies both work.
            prefix: put in front of every key, to keep titles apart from other data.
            owns_client: close the client in :meth:`aclose`.
        """
        self._client = client
        self._prefix = prefix
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, *, prefix: str = REDIS_KEY_PREFIX) -> RedisTitleCache:
        """Connect (lazily) to ``url``; the cache owns and closes the client."""
        client = Redis.from_url(
            url,
            decode_responses=True,
            **stale_connection_retry(),
        )
        return cls(client, prefix=prefix, owns_client=True)

    async def put(self, key: str, title: str, ttl_s: float) -> None:
        """Store ``title`` under the prefixed ``key`` with a ``ttl_s`` expiry."""
        _check_ttl(ttl_s)
        # PX, not EX: a fractional TTL must not round to "never expires" or zero.
        await self._client.set(self._prefix + key, title, px=max(1, round(ttl_s * 1000)))

    async def take(self, key: str) -> str | None:
        """Return and remove the title under the prefixed ``key`` with one GETDEL."""
        value = await self._client.getdel(self._prefix + key)
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def aclose(self) -> None:
        """Close the client if this cache created it."""
        if self._owns_client:
            await self._client.aclose()
