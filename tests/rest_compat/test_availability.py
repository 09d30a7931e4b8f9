"""A database that does not answer is a 503 ``{"error":"Service unavailable"}``
(REST) or a masked error (GraphQL); the process keeps serving and recovers
when the database comes back."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from storage.database import Database, connect
from storage.embedded import EmbeddedServer, free_port
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation

UNAVAILABLE = {"error": "Service unavailable"}
TIMEOUT_MS = 100


def _uri(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


async def _close(database: Database) -> None:
    """Close a client whose server may be down.

    PyMongo (4.20) leaks the socket of a monitor check that is cancelled
    mid-connect when the client closes (``_async_create_connection`` only
    closes it on OSError). Collect it here, quietly, instead of letting its
    ResourceWarning surface in whichever later test the GC happens to run.
    """
    await database.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(scope="module")
async def dead_client() -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a client whose server is a closed loopback port."""
    port = free_port()  # nothing listens there
    settings = make_settings(_uri(port), mongo_timeout_ms=TIMEOUT_MS)
    database = connect(_uri(port), db_name="unreachable", timeout_ms=TIMEOUT_MS)
    application = create_app(settings, database=database)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
    finally:
        await _close(database)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/convos", None),
        ("GET", "/api/convos/abc", None),
        ("POST", "/api/convos/update", {"arg": {"conversationId": "abc", "title": "x"}}),
        ("DELETE", "/api/convos", {"arg": {"conversationId": "abc"}}),
        ("DELETE", "/api/convos/all", None),
        ("GET", "/api/tags", None),
        ("POST", "/api/tags", {"tag": "t"}),
        ("PUT", "/api/tags/convo/abc", {"tags": ["t"]}),
    ],
)
async def test_unreachable_database_is_503_service_unavailable(
    dead_client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await dead_client.request(method, path, json=body, headers=auth(ALICE))
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


async def test_bad_input_and_auth_are_still_answered_without_the_database(
    dead_client: httpx.AsyncClient,
) -> None:
    response = await dead_client.get("/api/convos")
    assert (response.status_code, response.json()) == (401, {"message": "No auth token"})
    response = await dead_client.get("/api/convos?limit=abc", headers=auth(ALICE))
    assert response.status_code == 400
    response = await dead_client.get("/health")
    assert response.status_code == 200


async def test_graphql_on_an_unreachable_database_says_unavailable_without_the_driver_error(
    dead_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await dead_client.post(
            "/graphql", json={"query": "{ tags { tag } }"}, headers=auth(ALICE)
        )
    # Like the execution timeout: retry later, nothing is wrong with the request.
    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "Service unavailable"
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "127.0.0.1" not in str(body) and "Timeout" not in str(body)
    # An outage is one warning line per request, as on REST: no traceback.
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


async def _wait_status(client: httpx.AsyncClient, status: int, attempts: int = 100) -> None:
    last = None
    for _ in range(attempts):
        response = await client.get("/api/convos", headers=auth(ALICE))
        last = response.status_code
        if last == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {status}, last status {last}")


async def test_the_app_recovers_when_the_database_comes_back(tmp_path: Path) -> None:
    port = free_port()
    server = EmbeddedServer(tmp_path / "db", port=port, log_path=tmp_path / "db.log")
    await asyncio.to_thread(server.start)
    database: Database | None = None
    try:
        settings = make_settings(server.uri, mongo_timeout_ms=500)
        database = connect(server.uri, db_name="recovery", timeout_ms=500)
        doc = await insert_conversation(database, ALICE, title="kept")
        application: Starlette = create_app(settings, database=database)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await _wait_status(client, 200)

                await asyncio.to_thread(server.stop)
                await _wait_status(client, 503)
                response = await client.get("/api/convos", headers=auth(ALICE))
                assert response.json() == UNAVAILABLE

                await asyncio.to_thread(server.start)
                await _wait_status(client, 200)
                response = await client.get("/api/convos", headers=auth(ALICE))
                titles = [c["title"] for c in response.json()["conversations"]]
                assert titles == ["kept"]
                assert (
                    response.json()["conversations"][0]["conversationId"] == (doc["conversationId"])
                )
    finally:
        if database is not None:
            await _close(database)
        await asyncio.to_thread(server.stop)


async def test_start_up_without_a_database_serves_503_then_recovers(tmp_path: Path) -> None:
    port = free_port()
    server = EmbeddedServer(":memory:", port=port, log_path=tmp_path / "db.log")
    settings = make_settings(server.uri, mongo_timeout_ms=300)
    database = connect(server.uri, db_name="late", timeout_ms=300)
    application = create_app(settings, database=database)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/api/convos", headers=auth(ALICE))
                assert (response.status_code, response.json()) == (503, UNAVAILABLE)
                await asyncio.to_thread(server.start)
                await _wait_status(client, 200)
    finally:
        await _close(database)
        await asyncio.to_thread(server.stop)
