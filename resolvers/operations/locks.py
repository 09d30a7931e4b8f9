"""One user's tag changes run one at a time.

A tag's position is "after the last one" and its count is recomputed from the
conversations: both are read-then-write, so two requests of the same user
interleaving at their awaits (a client firing several requests, two tabs) gave
duplicate positions or wrote a stale count last. MongoDB has no multi-document
transaction on a standalone server, so the operations that read and write tag
state are serialised per user. Different users never wait for each other.

Where the lock lives is the process's choice (``Services.locks``): in this
process (:class:`UserLocks`, one replica), or in Redis with a lease when
replicas share one (``resolvers/adapters/redis_locks.py``); one user's
requests spread over two replicas must wait for each other too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class UserLockTimeout(Exception):
    """The user's lock stayed held (by another request or replica) for the whole wait.

    Not a ``UserError``: a server-side condition, answered 503.
    """


class UserLock(Protocol):
    """One lock per user: ``async with locks.hold(user):`` runs alone for that user."""

    def hold(self, user: str) -> AbstractAsyncContextManager[None]: ...


class UserLocks:
    """An ``asyncio.Lock`` per user, dropped when nobody holds or awaits it.

    Excludes only within this process: the lock of one replica. A waiter
    gives up after ``wait_s`` (TAG_LOCK_WAIT_S), as with the Redis lock, so a
    queue of one user's requests cannot hold connections without bound.
    """

    def __init__(self, wait_s: float | None = None) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._wait_s = wait_s

    @contextlib.asynccontextmanager
    async def hold(self, user: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(user, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[user] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(self._wait_s):
                    await lock.acquire()
            except TimeoutError:
                raise UserLockTimeout(
                    f"the tag lock of a user stayed held for {self._wait_s} s"
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            _, users = self._locks[user]
            if users == 1:
                del self._locks[user]
            else:
                self._locks[user] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class _HasLocks(Protocol):
    @property
    def locks(self) -> UserLock: ...


S = TypeVar("S", bound=_HasLocks)


def one_at_a_time_per_user(
    operation: Callable[Concatenate[S, str, P], Awaitable[T]],
) -> Callable[Concatenate[S, str, P], Awaitable[T]]:
    """Run ``operation(services, user, ...)`` holding ``services.locks`` for ``user``.

    Operations wrapped this way must not call each other (the lock is not
    re-entrant); they share unwrapped helpers instead.
    """

    async def locked(services: S, user: str, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with services.locks.hold(user):
            return await operation(services, user, *args, **kwargs)

    functools.update_wrapper(locked, operation)
    return locked
