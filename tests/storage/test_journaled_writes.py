"""An acknowledged write survives the database being killed right after it.

Without ``j: true`` the embedded server acknowledged writes it had not yet
journaled: SIGKILLed just after, it came back without them. The gateway's
client now asks for journaled writes (``MONGO_WRITE_JOURNAL``, on by default).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from app.main import create_app
from storage.database import _journal_allowed
from storage.embedded import EmbeddedServer, free_port
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth


async def _tags_once_back(http: httpx.AsyncClient) -> list[str]:
    """The user's tags, asked until the restarted server answers (503 meanwhile)."""
    for _ in range(200):
        response = await http.get("/api/tags", headers=auth(ALICE))
        if response.status_code == 200:
            return [tag["tag"] for tag in response.json()]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the gateway did not recover: {response.status_code}")


async def test_a_write_the_gateway_acknowledged_survives_a_sigkill_of_the_embedded_server(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "db"
    port = free_port()
    server = EmbeddedServer(storage, port=port, log_path=tmp_path / "first.log")
    await asyncio.to_thread(server.start)
    restarted = EmbeddedServer(storage, port=port, log_path=tmp_path / "second.log")
    try:
        # The app's own client, built from the settings as in production.
        app = create_app(make_settings(server.uri, mongo_db_name="durable", mongo_timeout_ms=500))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            created = await http.post("/api/tags", json={"tag": "kept"}, headers=auth(ALICE))
            assert created.status_code == 200
            # Acknowledged: kill the server before anything else happens, then
            # bring it back on the same data and port.
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(restarted.start)
            assert await _tags_once_back(http) == ["kept"]
    finally:
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(restarted.stop)


def test_the_uri_decides_when_it_sets_journal_or_unacknowledged_writes() -> None:
    assert _journal_allowed("mongodb://h:27017/LibreChat?directConnection=true")
    assert _journal_allowed("mongodb+srv://user:pw@cluster.example/db?w=majority")
    assert not _journal_allowed("mongodb://h/db?journal=false")
    assert not _journal_allowed("mongodb://h1,h2/db?replicaSet=rs&w=0")
