"""X-Request-ID on every response; JSON log lines that carry it; no secrets in any line."""

from __future__ import annotations

import json
import logging
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.client import connect as ws_connect
from websockets.sync.client import connect

from app.log_format import configure_logging
from app.observability import observe
from app.settings import Settings, SettingsError
from tests.conftest import make_settings
from tests.utils.factories import ALICE, JWT_SECRET, auth, token
from tests.utils.gateway_process import gateway
from tests.utils.servers import running

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("convos_gateway", "app", "resolvers", "storage", "convos_gateway.access")
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_every_response_carries_a_generated_request_id(client: httpx.AsyncClient) -> None:
    responses = [
        await client.get("/api/convos", headers=auth(ALICE)),
        await client.get("/api/convos"),  # 401
        await client.get("/nowhere"),  # 404, no route
        await client.post("/graphql", json={"query": "{ tags { tag } }"}, headers=auth(ALICE)),
        await client.get("/health"),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(i is not None and GENERATED.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("trace-42", True),
        ("a1.b2_c3:d4-e5", True),
        ("x" * 128, True),
        ("x" * 129, False),  # too long for a log field
        ("two words", False),
        ("semi;colon", False),
        ("", False),
    ],
)
async def test_a_sane_caller_request_id_is_echoed_else_one_is_generated(
    client: httpx.AsyncClient, sent: str, echoed: bool
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": sent})
    got = response.headers["x-request-id"]
    if echoed:
        assert got == sent
    else:
        assert GENERATED.fullmatch(got)


async def test_a_server_error_also_carries_the_request_id(mongo_uri: str) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a fault in a route")

    application = Starlette(routes=[Route("/boom", boom)])
    observe(application, make_settings(mongo_uri))
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "fault-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "fault-1"


async def test_json_log_lines_carry_request_id_user_route_status_and_duration(
    client: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    configure_logging("json", "info")
    rest = await client.get("/api/convos", headers={**auth(ALICE), "X-Request-ID": "rest-1"})
    graphql = await client.post(
        "/graphql",
        json={"query": "query RecentTags { tags { tag } }"},
        headers={**auth(ALICE), "X-Request-ID": "gql-1"},
    )
    anonymous = await client.get("/api/tags", headers={"X-Request-ID": "anon-1"})
    assert (rest.status_code, graphql.status_code, anonymous.status_code) == (200, 200, 401)

    lines = {line.get("request_id"): line for line in json_lines(capsys.readouterr().err)}
    assert lines["rest-1"] | {"duration_ms": 0, "time": ""} == {
        "time": "",
        "level": "info",
        "logger": "convos_gateway.access",
        "message": lines["rest-1"]["message"],
        "request_id": "rest-1",
        "user_id": ALICE,
        "route": "/api/convos",
        "method": "GET",
        "status": 200,
        "duration_ms": 0,
    }
    assert isinstance(lines["rest-1"]["duration_ms"], float)
    assert lines["gql-1"]["route"] == "/graphql"
    assert lines["gql-1"]["operation"] == "query RecentTags"
    assert lines["gql-1"]["user_id"] == ALICE
    assert "user_id" not in lines["anon-1"] and lines["anon-1"]["status"] == 401


async def test_plain_text_stays_the_default(
    client: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    assert Settings.from_env({}).log_format == "text"
    configure_logging("text", "debug")  # debug: the access line is written
    await client.get("/api/convos", headers={**auth(ALICE), "X-Request-ID": "plain-1"})
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "plain-1" in x]
    assert not line.startswith("{")
    assert "GET /api/convos 200" in line and line.endswith("[plain-1]")


SECRET_TEXT = "zebra-umbrella-quartz-7781"  # message text that must never be logged


def _export() -> bytes:
    conversation = {
        "title": "private",
        "create_time": 1700000000,
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["u"]},
            "u": {
                "id": "u",
                "parent": "root",
                "children": [],
                "message": {
                    "id": "u",
                    "author": {"role": "user"},
                    "create_time": 1700000000,
                    "content": {"content_type": "text", "parts": [SECRET_TEXT]},
                },
            },
        },
    }
    return json.dumps([conversation]).encode()


def test_no_token_secret_or_message_text_in_any_log_line_at_debug(tmp_path: Path) -> None:
    bearer = token(ALICE)
    headers = {"Authorization": f"Bearer {bearer}"}
    with gateway(tmp_path, LOG_LEVEL="debug", LOG_FORMAT="json") as served:
        with httpx.Client(base_url=served.base_url, headers=headers) as http:
            imported = http.post(
                "/api/convos/import",
                files={"file": ("export.json", _export(), "application/json")},
            )
            assert imported.status_code == 201, imported.text
            assert http.get("/api/convos", params={"search": SECRET_TEXT}).status_code == 200
            mutation = "mutation($t: String!) { createTag(input: {tag: $t}) { tag } }"
            created = http.post(
                "/graphql", json={"query": mutation, "variables": {"t": SECRET_TEXT}}
            )
            assert created.json() == {"data": {"createTag": {"tag": SECRET_TEXT}}}
            http.post(
                "/graphql", json={"query": "{ tags { tag } }", "variables": {"x": SECRET_TEXT}}
            )
            bad = http.post("/api/convos/update", json={"arg": {"title": SECRET_TEXT}})
            assert bad.status_code == 400
            wrong = http.get("/api/convos", headers={"Authorization": f"Bearer {bearer}x"})
            assert wrong.status_code == 401
        url = served.base_url.replace("http://", "ws://") + "/graphql"
        with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init", "payload": {"token": bearer}}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0
        lines = served.lines()

    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "convos_gateway.access"]
    assert len(access) >= 7 and all("request_id" in r for r in access)
    assert any(r.get("logger", "").startswith("uvicorn") for r in records)
    text = "\n".join(lines)
    for secret in (bearer, bearer.split(".")[2], JWT_SECRET, SECRET_TEXT, "Bearer"):
        assert secret not in text, secret


def test_an_unknown_log_format_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})


async def test_a_websocket_handshake_carries_the_request_id(app: Starlette) -> None:
    async with running(app) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with ws_connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers={"X-Request-ID": "socket-7"},
        ) as connection:
            assert connection.response is not None
            assert connection.response.headers["x-request-id"] == "socket-7"
