"""SIGTERM: stop accepting, finish what is in flight, close WebSockets with 1001,
stop the embedded database, exit 0 within the default bound (10 s)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from storage.database import connect as connect_db
from storage.embedded import EmbeddedServer
from tests.utils.factories import ALICE, token
from tests.utils.gateway_process import Gateway, gateway
from tests.utils.metrics import sample

EXIT_BOUND_S = 10  # the documented default: SHUTDOWN_GRACE_S (8) + the database's stop
BOUNDARY = "convos-test-boundary"
WAIT_S = 60.0  # only reached when something is broken


def _export(n: int) -> bytes:
    conversations = [
        {
            "title": f"kept {i}",
            "create_time": 1700000000 + i,
            "mapping": {
                "root": {"id": "root", "message": None, "parent": None, "children": ["u"]},
                "u": {
                    "id": "u",
                    "parent": "root",
                    "children": [],
                    "message": {
                        "id": "u",
                        "author": {"role": "user"},
                        "create_time": 1700000000 + i,
                        "content": {"content_type": "text", "parts": [f"question {i}"]},
                    },
                },
            },
        }
        for i in range(n)
    ]
    return json.dumps(conversations).encode()


class SlowUpload:
    """A multipart import whose second half is sent only when the test says so."""

    def __init__(self, data: bytes) -> None:
        half = len(data) // 2
        self.first = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            'filename="export.json"\r\nContent-Type: application/json\r\n\r\n'
        ).encode() + data[:half]
        self.rest = data[half:] + f"\r\n--{BOUNDARY}--\r\n".encode()
        self.first_sent = threading.Event()
        self.release = threading.Event()

    def body(self) -> Iterator[bytes]:
        yield self.first
        # httpx asks for the next chunk once the first is written to the socket.
        self.first_sent.set()
        assert self.release.wait(WAIT_S)
        yield self.rest

    def post(self, base_url: str) -> httpx.Response:
        return httpx.post(
            f"{base_url}/api/convos/import",
            content=self.body(),
            headers={
                "Authorization": f"Bearer {token(ALICE)}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=WAIT_S,
        )


def _until(condition: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {condition}")
        time.sleep(0.02)


def _in_flight(served: Gateway) -> float:
    # The scrape itself is one of the requests in progress.
    text = httpx.get(f"{served.base_url}/metrics").text
    return sample(text, "convos_http_requests_in_progress") - 1


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _database_port(served: Gateway) -> int:
    for line in served.lines():
        found = re.search(r"embedded SecantusDB at mongodb://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError("no database line in the log")


def test_sigterm_finishes_the_request_in_flight_closes_websockets_and_exits_zero(
    tmp_path: Path,
) -> None:
    upload = SlowUpload(_export(2))
    with gateway(tmp_path) as served, ThreadPoolExecutor(1) as pool:
        (database_pid,) = served.children()
        database_port = _database_port(served)
        ws_url = served.base_url.replace("http://", "ws://") + "/graphql"
        with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init", "payload": {"token": token(ALICE)}}))
            assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "connection_ack"

            pending = pool.submit(upload.post, served.base_url)
            assert upload.first_sent.wait(WAIT_S)
            _until("the upload is in flight", lambda: _in_flight(served) >= 1)

            served.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            _until("the listener is closed", lambda: _refuses_connections(served.port))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=WAIT_S)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001

            upload.release.set()
            response = pending.result(WAIT_S)
            assert response.status_code == 201, response.text

            remaining = EXIT_BOUND_S - (time.monotonic() - signalled)
            assert served.process.wait(max(remaining, 0.1)) == 0
        assert not Path(f"/proc/{database_pid}").exists()
        assert _refuses_connections(database_port)

    # The import was written whole, and the database was stopped in order:
    # it opens again on the same data.
    with EmbeddedServer(tmp_path / "data" / "db") as server:
        count = _count_sync(server.uri)
    assert count == 2


def _count_sync(uri: str) -> int:
    async def count() -> int:
        database = connect_db(uri, db_name="LibreChat")
        try:
            return await database.conversations.count_documents({"user": ALICE})
        finally:
            await database.close()

    return asyncio.run(count())
