"""The server as ``convos-gateway serve`` runs it, over raw sockets on 127.0.0.1
(issue 9: rate-limit key spoofing, oversized and slow requests, idle sockets,
clients that leave mid-body).

Each test starts a real uvicorn with :func:`app.server.server_options`, the
options ``serve`` passes to ``uvicorn.run``, with short limits of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from app.main import create_app
from app.server import DisconnectGuard, GuardedHttpToolsProtocol, server_options
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import (
    ALICE,
    auth,
    insert_conversation,
    insert_thread,
    snapshot,
    token,
)
from tests.utils.ws import graphql_ws

# Only reached when something is broken; never asserted on.
WAIT_S = 10.0
# Short limits so that a test sees them act.
LIMITS: dict[str, Any] = {
    "server_max_header_bytes": 8 * 1024,
    "server_header_timeout_s": 0.5,
    "server_body_timeout_s": 0.5,
    "server_body_min_bytes_per_s": 500,
    "server_keepalive_timeout_s": 1,
}


@contextlib.asynccontextmanager
async def serving(
    mongo_uri: str, database: Database, **overrides: Any
) -> AsyncIterator[tuple[str, int]]:
    """A real uvicorn on 127.0.0.1 (a free port) started as ``serve`` starts it."""
    settings = make_settings(mongo_uri, **{**LIMITS, **overrides})
    app = create_app(settings, database=database)
    options = server_options(app, settings)
    # Port 0: a free one. log_config None: uvicorn's records reach caplog.
    server = uvicorn.Server(uvicorn.Config(**{**options, "port": 0, "log_config": None}))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            task.result()
            raise RuntimeError("uvicorn did not start")
        yield "127.0.0.1", server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT_S)


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), WAIT_S):
            received += chunk
    return received


def _request(
    method: str,
    path: str,
    headers: dict[str, str],
    body_length: int = 0,
    content_type: str = "application/json",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body_length:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {body_length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- client IP ---------------------------------------------------------------


async def _source(database: Database) -> tuple[str, str]:
    conversation = await insert_conversation(database, ALICE, title="Source")
    thread = await insert_thread(database, ALICE, conversation["conversationId"], ["q", "a"])
    return conversation["conversationId"], thread[-1]["messageId"]


async def _forks_with_spoofed_ips(base: str, source: tuple[str, str], count: int) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=base) as client:
        for n in range(count):
            response = await client.post(
                "/api/convos/fork",
                json={"conversationId": source[0], "messageId": source[1]},
                headers={**auth(ALICE), "X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            statuses.append(response.status_code)
    return statuses


async def test_a_spoofed_forwarded_for_from_loopback_does_not_change_the_rate_limit_key(
    mongo_uri: str, database: Database
) -> None:
    source = await _source(database)
    async with serving(mongo_uri, database, fork_ip_max=3, fork_user_max=1000) as (host, port):
        statuses = await _forks_with_spoofed_ips(f"http://{host}:{port}", source, 5)
    # One key, the socket's 127.0.0.1, whatever each request claimed.
    assert statuses == [200, 200, 200, 429, 429]
    assert await database.conversations.count_documents({"user": ALICE}) == 1 + 3


async def test_forwarded_for_counts_when_loopback_is_a_trusted_proxy(
    mongo_uri: str, database: Database
) -> None:
    source = await _source(database)
    async with serving(
        mongo_uri,
        database,
        fork_ip_max=3,
        fork_user_max=1000,
        trusted_proxies=("127.0.0.1",),
    ) as (host, port):
        statuses = await _forks_with_spoofed_ips(f"http://{host}:{port}", source, 5)
    assert statuses == [200] * 5


# --- header size and deadlines ----------------------------------------------


async def test_ten_megabytes_of_headers_are_refused(mongo_uri: str, database: Database) -> None:
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        pad = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        with contextlib.suppress(ConnectionError):
            for _ in range(10 * 1024):  # 10 MB of headers, never finished
                writer.write(pad)
                await writer.drain()
        answer = await _until_closed(reader)
        writer.close()
    # 431, or closed before the answer could be read (the client was still writing).
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100]


async def test_headers_over_the_limit_answer_431_and_close(
    mongo_uri: str, database: Database
) -> None:
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_request("GET", "/health", {f"X-Pad-{n}": "a" * 100 for n in range(100)}))
        answer = await _until_closed(reader)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_headers_under_the_limit_are_served(mongo_uri: str, database: Database) -> None:
    async with serving(mongo_uri, database) as (host, port):
        headers = {f"X-Pad-{n}": "a" * 100 for n in range(50)}
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            response = await client.get("/health", headers=headers)
    assert response.status_code == 200


async def test_a_client_sending_its_headers_slowly_is_cut_off(
    mongo_uri: str, database: Database
) -> None:
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = None
        for n in range(int(WAIT_S / 0.1)):
            with contextlib.suppress(ConnectionError):
                writer.write(f"X-Drip-{n}: a\r\n".encode())
            try:
                answer = await asyncio.wait_for(reader.read(65536), 0.1)
                break
            except TimeoutError:
                continue
        writer.close()
    assert answer is not None, "the server kept reading headers"
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_connection_that_sends_nothing_is_closed(
    mongo_uri: str, database: Database
) -> None:
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        assert await _until_closed(reader) == b""
        writer.close()


async def test_a_client_sending_its_body_slowly_is_cut_off_and_nothing_changes(
    mongo_uri: str, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    doc = await insert_conversation(database, ALICE, title="kept")
    before = await snapshot(database)
    body = f'{{"arg": {{"conversationId": "{doc["conversationId"]}", "title": "renamed"}}}}'
    caplog.set_level(logging.INFO)
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_request("POST", "/api/convos/update", auth(ALICE), len(body)))
        answer = None
        for byte in body.encode():
            with contextlib.suppress(ConnectionError):
                writer.write(bytes([byte]))
            try:
                answer = await asyncio.wait_for(reader.read(65536), 0.1)
                break
            except TimeoutError:
                continue
        writer.close()
    assert answer is not None, "the server waited for the whole body"
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert await snapshot(database) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_idle_keep_alive_connection_is_closed(mongo_uri: str, database: Database) -> None:
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_request("GET", "/health", {}))
        status = await asyncio.wait_for(reader.readline(), WAIT_S)
        assert status.startswith(b"HTTP/1.1 200 ")
        # The response, then nothing more: the server closes the idle connection.
        rest = await _until_closed(reader)
        writer.close()
    assert rest.endswith(b"\r\n\r\nOK")


# --- clients that leave -------------------------------------------------------


MULTIPART = "multipart/form-data; boundary=b0undary"


@pytest.mark.parametrize(
    ("path", "content_type", "partial"),
    [
        ("/api/convos/update", "application/json", b'{"arg": {"conversationId": '),
        ("/graphql", "application/json", b'{"query": "{ conv'),
        (
            "/api/convos/import",
            MULTIPART,
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="e.json"\r\n'
            b"Content-Type: application/json\r\n\r\n[{",
        ),
    ],
    ids=["rest", "graphql", "import-upload"],
)
async def test_a_client_leaving_mid_body_is_an_info_line_not_an_error(
    mongo_uri: str,
    database: Database,
    caplog: pytest.LogCaptureFixture,
    path: str,
    content_type: str,
    partial: bytes,
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(mongo_uri, database, server_body_timeout_s=WAIT_S) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_request("POST", path, auth(ALICE), 100_000, content_type) + partial)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(1000):
            if any("left before sending its whole request" in r.message for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    left = [r for r in caplog.records if "left before sending its whole request" in r.message]
    assert [r.levelno for r in left] == [logging.INFO]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_websocket_outlives_the_header_and_body_deadlines(
    mongo_uri: str, database: Database
) -> None:
    async with (
        serving(mongo_uri, database) as (host, port),
        graphql_ws(f"http://{host}:{port}") as ws,
    ):
        assert await ws.init({"Authorization": f"Bearer {token(ALICE)}"}) == {
            "type": "connection_ack"
        }
        # Past every HTTP deadline set above: the upgraded connection is not theirs.
        await asyncio.sleep(3 * LIMITS["server_keepalive_timeout_s"])
        await ws.send({"type": "ping"})
        assert await ws.receive() == {"type": "pong"}


async def test_a_body_behind_headers_over_the_limit_is_not_read(
    mongo_uri: str, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    padding = {f"X-Pad-{n}": "a" * 100 for n in range(100)}
    async with serving(mongo_uri, database) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_request("POST", "/graphql", padding, 10) + b'{"q": "x"}')
        answer = await _until_closed(reader)
        writer.close()
    assert answer == b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + (
        b"content-length: 0\r\nconnection: close\r\n\r\n"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_serve_runs_uvicorn_with_these_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import app.main
    from app import cli, shutdown

    configs: list[uvicorn.Config] = []

    class RecordingServer:
        started = True

        def __init__(self, config: uvicorn.Config, close_websockets: Any) -> None:
            configs.append(config)

        def run(self) -> None:
            pass

    def bare_app(settings: Any, on_ready: Any, **options: Any) -> Starlette:
        starlette = Starlette()
        starlette.state.websockets = SimpleNamespace(close_all=None)
        return starlette

    monkeypatch.setattr(shutdown, "GracefulServer", RecordingServer)
    monkeypatch.setattr(shutdown, "exit_cleanly_on_sigterm", lambda: None)
    monkeypatch.setattr(app.main, "create_app", bare_app)
    for name, value in {
        "MONGO_URI": "mongodb://127.0.0.1:1/unused",
        "CONVOS_DATA_DIR": str(tmp_path),
        "CONVOS_ENV": "test",
        "SERVER_KEEPALIVE_TIMEOUT_S": "7",
        "SERVER_MAX_HEADER_BYTES": "4096",
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve"]) == 0
    [config] = configs
    assert config.proxy_headers is False
    assert config.timeout_keep_alive == 7
    assert isinstance(config.http, type) and issubclass(config.http, GuardedHttpToolsProtocol)
    assert config.http.limits.max_header_bytes == 4096
    assert isinstance(config.app, DisconnectGuard)
