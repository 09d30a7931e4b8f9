"""An acknowledged write survives a SIGKILL of the embedded database.

Found by the fault test: SecantusDB, like mongod with ``j: false``, answers a
write before its journal record leaves the process, so a SIGKILL right after
the answer loses it (5 of 5 here). Asking for ``j: true`` (``journal=true``
in the URI) makes each write wait for its journal record, and then it
survives. The gateway's own connection asks for nothing yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import connect
from storage.embedded import EmbeddedServer, free_port

WRITES = 3


@pytest.fixture
async def killable(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path / "db", port=free_port(), log_path=tmp_path / "db.log")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def surviving_writes(server: EmbeddedServer, uri: str) -> int:
    """Insert, SIGKILL the server at once, restart it, look: how many survived."""
    survived = 0
    for n in range(WRITES):
        database = connect(uri, db_name="durability", timeout_ms=10_000)
        try:
            await database.conversations.insert_one({"conversationId": f"c{n}", "user": "u"})
            process = server._process  # only a graceful stop is public
            assert process is not None
            process.kill()
            await asyncio.to_thread(process.wait)
            await asyncio.to_thread(server.start)
            if await database.conversations.find_one({"conversationId": f"c{n}"}) is not None:
                survived += 1
        finally:
            await database.close()
    return survived


async def test_a_journaled_write_survives_a_sigkill(killable: EmbeddedServer) -> None:
    assert await surviving_writes(killable, killable.uri + "&journal=true") == WRITES


async def test_a_write_acknowledged_on_the_gateways_connection_survives_a_sigkill(
    killable: EmbeddedServer,
) -> None:
    # The URI the CLI gives the gateway for the embedded database.
    assert await surviving_writes(killable, killable.uri) == WRITES
