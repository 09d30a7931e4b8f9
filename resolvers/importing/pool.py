"""How many imports run at once: a bounded pool with a per-user share.

An import holds a worker thread, CPU and disk for as long as its file takes,
so the process runs at most ``max_concurrent`` of them. Within that, one user
runs at most ``max_per_user``: their other imports wait for their own
previous ones, not in the shared queue, so six large imports of one user do
not delay another user's small one (it takes the next free slot at once).

A waiting import holds only its spooled upload and its request; the rate
limits bound how many one user can start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _UserShare:
    """One user's slots, kept while any of their imports runs or waits."""

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.holders = 0


class ImportPool:
    """Slots for running imports: ``max_concurrent`` in all, ``max_per_user`` each."""

    def __init__(self, max_concurrent: int, max_per_user: int) -> None:
        if max_concurrent < 1 or max_per_user < 1:
            raise ValueError("an import pool needs at least one slot in all and per user")
        self.max_concurrent = max_concurrent
        self.max_per_user = max_per_user
        self._slots = asyncio.Semaphore(max_concurrent)
        self._users: dict[str, _UserShare] = {}
        self.running = 0

    @asynccontextmanager
    async def slot(self, user: str) -> AsyncIterator[None]:
        """Wait for a slot of the user's share, then one of the pool's; hold both."""
        share = self._users.get(user)
        if share is None:
            share = self._users[user] = _UserShare(self.max_per_user)
        share.holders += 1
        try:
            # The user's share first: a user's queued imports never stand in
            # the shared queue ahead of another user's.
            async with share.slots, self._slots:
                self.running += 1
                try:
                    yield
                finally:
                    self.running -= 1
        finally:
            share.holders -= 1
            if share.holders == 0:
                # Bounded by the users importing right now, not by all users ever seen.
                del self._users[user]

    def pending(self, user: str) -> int:
        """How many of the user's imports run or wait for a slot."""
        share = self._users.get(user)
        return 0 if share is None else share.holders
