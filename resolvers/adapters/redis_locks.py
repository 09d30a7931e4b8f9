"""One user's tag changes run one at a time across every replica: a Redis lock.

Why Redis and not the database: replicas already share Redis for everything
else they must agree on (rate limits, persisted queries, events, titles), and
a lock there is one ``SET NX PX`` per change. A database-side scheme has no
good form on a LibreChat database: a unique index on (user, position) would
reject LibreChat's own shifts of positions (one ``$inc`` over many tags) and
the duplicates existing data may already hold, and a lock collection would be
a collection LibreChat does not know, written on every tag change, polled by
waiters over the busiest connection.

The lock has a **lease** (``TAG_LOCK_LEASE_S``): a replica that dies while
holding it (SIGKILL, a lost host) blocks that user's tag changes for at most
one lease. A live holder renews the lease every third of it, so a long
operation (an import's tags) keeps the lock however long it takes.

Waiters of the same process queue on an in-process lock first, so only one
per replica polls Redis; a waiter gives up after ``TAG_LOCK_WAIT_S`` with
:class:`UserLockTimeout` (the edges answer 503). Redis being unreachable
fails the change the same way as every other Redis-backed feature: 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from resolvers.operations.locks import UserLocks, UserLockTimeout

log = logging.getLogger(__name__)

# How often a waiter retries SET NX while another replica holds the lock:
# short, because tag changes take milliseconds and only one waiter per
# replica polls (the others wait on the in-process lock).
POLL_S = 0.01
# Keys of the per-user locks in the shared Redis.
KEY_PREFIX = "convos-gateway:tag-lock"


class RedisUserLocks:
    """Per-user locks in Redis, with a renewed lease, shared by every replica."""

    def __init__(self, redis: Redis, *, lease_s: float = 10.0, wait_s: float = 30.0) -> None:
        if lease_s <= 0 or wait_s <= 0:
            raise ValueError("the lease and the wait must be positive")
        self._redis = redis
        self._lease_s = lease_s
        self._wait_s = wait_s
        self._local = UserLocks()

    def key(self, user: str) -> str:
        return f"{KEY_PREFIX}:{user}"

    @contextlib.asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        async with self._local.hold(user):
            lock = Lock(
                self._redis,
                self.key(user),
                timeout=self._lease_s,
                sleep=POLL_S,
                blocking_timeout=self._wait_s,
                # One Lock object per hold: the token lives on it, not per thread.
                thread_local=False,
            )
            try:
                # Bounds a hung Redis too: blocking_timeout is only checked between tries.
                async with asyncio.timeout(self._wait_s):
                    acquired = await lock.acquire()
            except TimeoutError:
                acquired = False
            if not acquired:
                raise UserLockTimeout(f"the tag lock of a user stayed held for {self._wait_s} s")
            renewing = asyncio.create_task(self._renew(lock))
            try:
                yield
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await self._release(lock)

    async def _renew(self, lock: Lock) -> None:
        """Push the lease back every third of it while the holder runs."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                await lock.reacquire()
            except LockError:
                # The lease ran out (Redis was unreachable for a whole lease):
                # another replica may be inside now; nothing left to renew.
                log.warning("lost the tag lock %s while holding it", lock.name)
                return
            except RedisError as exc:
                log.warning("could not renew the tag lock %s: %s", lock.name, exc)

    async def _release(self, lock: Lock) -> None:
        # The operation's writes are done: a failed release must not turn its
        # success into an error. The lease frees the key anyway.
        try:
            await lock.release()
        except LockError:
            log.warning("the tag lock %s had expired before its release", lock.name)
        except RedisError as exc:
            log.warning("could not release the tag lock %s (its lease will): %s", lock.name, exc)
