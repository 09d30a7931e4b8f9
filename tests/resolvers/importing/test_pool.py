"""Imports run in a bounded pool with a per-user share (issue 9: one user's
zip bombs held every import worker, and another user's 2 KB import waited)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from resolvers.adapters.services import Services
from resolvers.importing.operation import (
    ImportAdmission,
    ImportOptions,
    ImportResult,
    configure_imports,
    import_conversations,
    import_pool,
)
from storage.database import Database
from tests.utils.imports import FIXTURES

ALICE = "665f1c2e9b7d4e1100000001"
BOB = "665f1c2e9b7d4e1100000002"
CAROL = "665f1c2e9b7d4e1100000003"
EXPORT = (FIXTURES / "chatgpt.json").read_bytes()
# Only a guard against a hung test: every wait below ends as soon as the
# awaited import runs, which the pool's rules decide, not timing.
_GUARD_S = 60


class HeldUpload:
    """An upload whose reading blocks until released, so its import holds a slot."""

    def __init__(self) -> None:
        self.opened = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def open(self) -> IO[bytes]:
        self.opened += 1
        self.entered.set()
        assert self.release.wait(_GUARD_S)
        return io.BytesIO(EXPORT)


async def entered(upload: HeldUpload) -> None:
    assert await asyncio.to_thread(upload.entered.wait, _GUARD_S)


def start(
    services: Services, user: str, open_stream: Callable[[], IO[bytes]]
) -> asyncio.Task[ImportResult]:
    return asyncio.create_task(
        import_conversations(services, ImportAdmission.unmetered(user), open_stream)
    )


async def settle() -> None:
    """Let every started task run until it blocks."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_one_users_imports_queue_behind_each_other_while_another_user_imports_at_once(
    database: Database,
) -> None:
    services = Services(database=database)
    configure_imports(services, ImportOptions(max_concurrent=2, max_concurrent_per_user=1))
    held = HeldUpload()
    alice = [start(services, ALICE, held.open) for _ in range(6)]
    await entered(held)
    await settle()

    bob = await import_conversations(
        services, ImportAdmission.unmetered(BOB), lambda: io.BytesIO(EXPORT)
    )

    assert bob.conversations > 0
    # Bob's import finished while Alice's first one still holds her only slot
    # and her five others wait for it (not for the pool).
    assert held.opened == 1
    assert not any(task.done() for task in alice)
    assert import_pool(services).pending(ALICE) == 6
    assert await database.conversations.count_documents({"user": ALICE}) == 0
    held.release.set()
    results = await asyncio.gather(*alice)
    assert held.opened == 6
    assert all(result.conversations == bob.conversations for result in results)
    assert import_pool(services).pending(ALICE) == 0


async def test_no_more_imports_run_at_once_than_the_pool_holds(database: Database) -> None:
    services = Services(database=database)
    configure_imports(services, ImportOptions(max_concurrent=2, max_concurrent_per_user=1))
    alice, bob, carol = HeldUpload(), HeldUpload(), HeldUpload()
    tasks = [start(services, ALICE, alice.open), start(services, BOB, bob.open)]
    await entered(alice)
    await entered(bob)
    tasks.append(start(services, CAROL, carol.open))
    await settle()

    # The pool is full: Carol's import waits, even though it is her first.
    assert import_pool(services).running == 2
    assert carol.opened == 0
    alice.release.set()
    await entered(carol)
    bob.release.set()
    carol.release.set()
    await asyncio.gather(*tasks)
    assert (alice.opened, bob.opened, carol.opened) == (1, 1, 1)
    assert import_pool(services).running == 0


def test_the_settings_default_to_two_imports_one_per_user(tmp_path: Path) -> None:
    from app.settings import Settings

    settings = Settings.from_env({"CONVOS_DATA_DIR": str(tmp_path)})
    assert (settings.import_max_concurrent, settings.import_max_concurrent_per_user) == (2, 1)
    custom = Settings.from_env(
        {"IMPORT_MAX_CONCURRENT": "4", "IMPORT_MAX_CONCURRENT_PER_USER": "2"}
    )
    assert (custom.import_max_concurrent, custom.import_max_concurrent_per_user) == (4, 2)


async def test_a_cancelled_import_keeps_its_slot_until_its_thread_ends(
    database: Database,
) -> None:
    services = Services(database=database)
    configure_imports(services, ImportOptions(max_concurrent=1, max_concurrent_per_user=1))
    held = HeldUpload()
    task = start(services, ALICE, held.open)
    await entered(held)

    task.cancel()
    await settle()

    # The thread reading the upload cannot be stopped: the slot stays taken.
    assert not task.done()
    assert import_pool(services).running == 1
    held.release.set()
    await asyncio.wait([task])
    assert task.cancelled()
    assert import_pool(services).running == 0
    assert await database.conversations.count_documents({}) == 0
