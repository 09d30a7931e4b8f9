"""UserLocks: one user's operations run one at a time, users never wait for
each other, and no lock outlives its use."""

from __future__ import annotations

import asyncio

import pytest

from resolvers.operations.locks import UserLocks, UserLockTimeout


async def test_one_users_sections_never_overlap_and_locks_are_dropped() -> None:
    locks = UserLocks()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def section(user: str) -> None:
        async with locks.hold(user):
            inside[user] += 1
            most[user] = max(most[user], inside[user])
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            inside[user] -= 1

    await asyncio.gather(*[section(u) for u in "ab" * 10])
    assert most == {"a": 1, "b": 1}
    assert len(locks) == 0


async def test_other_users_do_not_wait() -> None:
    locks = UserLocks()
    async with locks.hold("a"):
        await asyncio.wait_for(_enter(locks, "b"), timeout=5)
        assert len(locks) == 1


async def test_a_failing_section_releases_the_lock() -> None:
    locks = UserLocks()
    try:
        async with locks.hold("a"):
            raise ValueError("boom")
    except ValueError:
        pass
    await asyncio.wait_for(_enter(locks, "a"), timeout=5)
    assert len(locks) == 0


async def _enter(locks: UserLocks, user: str) -> None:
    async with locks.hold(user):
        pass


async def test_a_waiter_gives_up_after_the_bound_and_the_holder_keeps_the_lock() -> None:
    locks = UserLocks(wait_s=0.05)
    async with locks.hold("u"):
        with pytest.raises(UserLockTimeout):
            async with locks.hold("u"):
                pass  # pragma: no cover - never reached
    # The refused waiter left nothing behind: the lock is free again.
    async with locks.hold("u"):
        pass
    assert len(locks) == 0
