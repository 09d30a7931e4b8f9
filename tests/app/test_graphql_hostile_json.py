"""Hostile JSON on every GraphQL transport: a clean 400 (WebSocket: close 4400).

JSON nested ~1,000 deep, a lone UTF-16 surrogate in a string, an oversized
WebSocket message and a multipart ``map`` path through null or a scalar are
refused by the one guarded decoder (app/jsonutil.py) or the upload map
check, with ``extensions.code`` and no traceback in the log (issue 9, item 2).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, fingerprint, insert_conversation, token
from tests.utils.servers import running
from tests.utils.ws import graphql_ws

DEEP = "[" * 1000 + "]" * 1000
# A lone high surrogate, escaped as JSON allows it to be written.
LONE_SURROGATE = '"\\ud800"'
RENAME = """mutation($id: String!, $t: String!) {
  updateConversationTitle(conversationId: $id, title: $t) { title }
}"""
EVENTS = "subscription { conversationEvents { kind } }"
IMPORT = "mutation($file: Upload!) { importConversations(file: $file) { conversationCount } }"
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(mongo_uri, import_temp_dir=tmp_path, max_body_bytes=64 * 1024)


@contextlib.asynccontextmanager
async def server(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running(create_app(settings, database=database)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        yield client


def assert_bad_request(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]


def post_raw(client: httpx.AsyncClient, body: str) -> Any:
    return client.post(
        "/graphql",
        content=body.encode(),
        headers={**auth(ALICE), "Content-Type": "application/json"},
    )


def multipart(operations: str, files_map: str) -> dict[str, Any]:
    return {
        "headers": {**auth(ALICE), **PREFLIGHT},
        "data": {"operations": operations, "map": files_map},
        "files": {"0": ("export.json", b"[]", "application/json")},
    }


HOSTILE_POSTS = {
    "deep variables": f'{{"query": "{{ __typename }}", "variables": {{"v": {DEEP}}}}}',
    "deep extensions": f'{{"query": "{{ __typename }}", "extensions": {{"e": {DEEP}}}}}',
    "deep body": DEEP,
    "lone surrogate": f'{{"query": "{{ __typename }}", "variables": {{"t": {LONE_SURROGATE}}}}}',
}


@pytest.mark.parametrize("body", HOSTILE_POSTS.values(), ids=HOSTILE_POSTS.keys())
async def test_hostile_json_bodies_answer_400_with_a_code(
    settings: Settings, database: Database, body: str
) -> None:
    async with server(settings, database) as client:
        assert_bad_request(await post_raw(client, body))


async def test_a_lone_surrogate_in_a_variable_is_refused_and_nothing_is_written(
    settings: Settings, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Before")
    before = await fingerprint(database)
    body = (
        f'{{"query": {json.dumps(RENAME)}, "variables": '
        f'{{"id": "{doc["conversationId"]}", "t": {LONE_SURROGATE}}}}}'
    )
    async with server(settings, database) as client:
        assert_bad_request(await post_raw(client, body))
    assert await fingerprint(database) == before


@pytest.mark.parametrize(
    "params",
    [
        {"query": "{ __typename }", "variables": f'{{"v": {DEEP}}}'},
        {"query": "{ __typename }", "extensions": f'{{"e": {DEEP}}}'},
        {"query": "{ __typename }", "variables": f'{{"v": {LONE_SURROGATE}}}'},
    ],
    ids=["deep variables", "deep extensions", "lone surrogate"],
)
async def test_hostile_json_in_get_parameters_answers_400_with_a_code(
    settings: Settings, database: Database, params: dict[str, str]
) -> None:
    async with server(settings, database) as client:
        assert_bad_request(await client.get("/graphql", params=params, headers=auth(ALICE)))


_OPERATIONS = json.dumps({"query": IMPORT, "variables": {"file": None}})
HOSTILE_FORMS = {
    "deep operations": (
        f'{{"query": "{{ __typename }}", "variables": {{"v": {DEEP}}}}}',
        '{"0": ["variables.file"]}',
    ),
    "deep map": (_OPERATIONS, f'{{"0": {DEEP}}}'),
    "map through null": (_OPERATIONS, '{"0": ["variables.file.inner"]}'),
    "map through a string": (_OPERATIONS, '{"0": ["query.0"]}'),
    "map to a missing key": (_OPERATIONS, '{"0": ["variables.nothing.file"]}'),
    "map index not a number": (json.dumps([{"query": IMPORT}]), '{"0": ["first.variables"]}'),
    "map index out of range": (json.dumps([{"query": IMPORT}]), '{"0": ["5.variables"]}'),
    "map paths not a list": (_OPERATIONS, '{"0": "variables.file"}'),
    "map path not a string": (_OPERATIONS, '{"0": [7]}'),
    "map not an object": (_OPERATIONS, '["variables.file"]'),
    "map names a missing file": (_OPERATIONS, '{"1": ["variables.file"]}'),
}


@pytest.mark.parametrize(
    ("operations", "files_map"), HOSTILE_FORMS.values(), ids=HOSTILE_FORMS.keys()
)
async def test_hostile_multipart_parts_answer_400_and_import_nothing(
    settings: Settings, database: Database, operations: str, files_map: str
) -> None:
    before = await fingerprint(database)
    async with server(settings, database) as client:
        response = await client.post("/graphql", **multipart(operations, files_map))
    assert_bad_request(response)
    assert await fingerprint(database) == before
    assert list(settings.import_temp_dir.iterdir()) == []  # type: ignore[union-attr]


_SUBSCRIBE = '{"id": "1", "type": "subscribe", "payload": {"query": %s}}'
HOSTILE_MESSAGES = {
    "deep subscribe": _SUBSCRIBE % f'"{EVENTS}", "variables": {{"v": {DEEP}}}',
    "lone surrogate": _SUBSCRIBE % LONE_SURROGATE,
    "oversized": json.dumps({"type": "ping", "payload": {"pad": "x" * 70_000}}),
}


@pytest.mark.parametrize("message", HOSTILE_MESSAGES.values(), ids=HOSTILE_MESSAGES.keys())
async def test_hostile_websocket_messages_close_with_4400(
    settings: Settings, database: Database, message: str
) -> None:
    async with running(create_app(settings, database=database)) as base, graphql_ws(base) as ws:
        ack = await ws.init({"Authorization": f"Bearer {token(ALICE)}"})
        assert ack == {"type": "connection_ack"}
        await ws.connection.send(message)
        code, _ = await ws.closed()
    assert code == 4400


async def test_a_deep_connection_init_closes_with_4400(
    settings: Settings, database: Database
) -> None:
    async with running(create_app(settings, database=database)) as base, graphql_ws(base) as ws:
        await ws.connection.send(f'{{"type": "connection_init", "payload": {{"p": {DEEP}}}}}')
        code, _ = await ws.closed()
    assert code == 4400


async def test_hostile_requests_leave_no_traceback_or_error_in_the_log(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(create_app(settings, database=database)) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            for body in HOSTILE_POSTS.values():
                await post_raw(client, body)
            await client.get(
                "/graphql", params={"query": "{ __typename }", "variables": f'{{"v": {DEEP}}}'}
            )
            for operations, files_map in HOSTILE_FORMS.values():
                await client.post("/graphql", **multipart(operations, files_map))
        for message in HOSTILE_MESSAGES.values():
            async with graphql_ws(base) as ws:
                await ws.init({"Authorization": f"Bearer {token(ALICE)}"})
                await ws.connection.send(message)
                await ws.closed()
    assert "Traceback" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
