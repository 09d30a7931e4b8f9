"""/ready follows real outages of MongoDB and Redis and their recovery; /health never does.

Outages are real: the embedded database's process is stopped and started
again on the same port and data, and a private redis-server is killed and
restarted on its port (the shared Redis at 6379 is left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from storage.database import Database, connect
from storage.embedded import EmbeddedServer, free_port
from tests.conftest import make_settings
from tests.rest_compat.test_availability import _close

READY_TIMEOUT_MS = 300


class RedisProcess:
    """A private redis-server on a free port, stoppable and restartable."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server is not None, "redis-server is part of this machine (make redis)"
        self._process = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], check=True, capture_output=True
                )
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def served(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    application: Starlette = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


async def _ready_until(client: httpx.AsyncClient, status: int) -> dict[str, Any]:
    """Probe /ready until it answers ``status`` (as a load balancer would)."""
    last: httpx.Response | None = None
    for _ in range(100):
        last = await client.get("/ready")
        if last.status_code == status:
            body: dict[str, Any] = last.json()
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/ready never answered {status}; last: {last and last.text}")


async def test_ready_is_200_and_checks_only_mongodb_without_redis(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"mongodb": "up"}}


async def test_ready_follows_a_mongodb_outage_and_its_recovery(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "db", port=free_port(), log_path=tmp_path / "db.log")
    await asyncio.to_thread(server.start)
    database: Database | None = None
    try:
        settings = make_settings(server.uri, ready_timeout_ms=READY_TIMEOUT_MS)
        database = connect(server.uri, db_name="ready", timeout_ms=500)
        async with served(settings, database) as client:
            assert (await _ready_until(client, 200))["checks"] == {"mongodb": "up"}

            await asyncio.to_thread(server.stop)
            body = await _ready_until(client, 503)
            assert body == {
                "status": "unavailable",
                "down": ["mongodb"],
                "checks": {"mongodb": "down"},
            }
            # Liveness does not depend on the database.
            assert (await client.get("/health")).status_code == 200

            await asyncio.to_thread(server.start)
            assert (await _ready_until(client, 200))["status"] == "ready"
    finally:
        if database is not None:
            await _close(database)
        await asyncio.to_thread(server.stop)


async def test_ready_follows_a_redis_outage_and_its_recovery(
    mongo_uri: str, database: Database, redis_server: RedisProcess
) -> None:
    settings = make_settings(
        mongo_uri,
        redis_uri=redis_server.uri,
        rate_limit_storage_uri=redis_server.uri,
        ready_timeout_ms=READY_TIMEOUT_MS,
    )
    async with served(settings, database) as client:
        # One Redis for both uses: checked (and named) once.
        assert (await _ready_until(client, 200))["checks"] == {"mongodb": "up", "redis": "up"}

        await asyncio.to_thread(redis_server.stop)
        body = await _ready_until(client, 503)
        assert body["down"] == ["redis"]
        assert body["checks"] == {"mongodb": "up", "redis": "down"}

        await asyncio.to_thread(redis_server.start)
        assert (await _ready_until(client, 200))["checks"]["redis"] == "up"


async def test_ready_checks_a_redis_rate_limit_storage_on_its_own(
    mongo_uri: str, database: Database
) -> None:
    # Nothing listens on this port: the limiter's Redis is down from the start.
    dead = f"redis://127.0.0.1:{free_port()}"
    settings = make_settings(
        mongo_uri, rate_limit_storage_uri=dead, ready_timeout_ms=READY_TIMEOUT_MS
    )
    async with served(settings, database) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["rate_limit_storage"]
    assert response.json()["checks"] == {"mongodb": "up", "rate_limit_storage": "down"}
