"""One request deadline on both edges, down to MongoDB (issue 10, item 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import monitoring
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.deadlines import RequestDeadline
from app.main import create_app
from storage.database import Database, connect
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, insert_conversation, message_doc

SLOW_TERM = "needle-that-is-nowhere"


async def _many_messages(database: Database, n: int = 4000) -> None:
    """Enough long messages that a regex over them outlasts a tiny deadline."""
    conversation = await insert_conversation(database, ALICE, title="haystack")
    cid = conversation["conversationId"]
    text = "lorem ipsum dolor sit amet " * 40
    docs = [message_doc(ALICE, cid, text=f"{text} {i}") for i in range(n)]
    await database.messages.insert_many(docs)


async def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_a_rest_request_over_the_deadline_answers_503_and_the_next_is_served(
    mongo_uri: str, database: Database
) -> None:
    await _many_messages(database)
    # The scan is today's search path: a regex over every message.
    slow = create_app(
        make_settings(mongo_uri, request_timeout_s=0.05, search_mode="scan"), database=database
    )
    async with slow.router.lifespan_context(slow), await _client(slow) as client:
        response = await client.get(f"/api/convos?search={SLOW_TERM}", headers=auth(ALICE))
        assert response.status_code == 503
        assert set(response.json()) == {"error"}
    normal = create_app(make_settings(mongo_uri), database=database)
    async with normal.router.lifespan_context(normal), await _client(normal) as client:
        response = await client.get("/api/convos", headers=auth(ALICE))
        assert response.status_code == 200
        assert [c["title"] for c in response.json()["conversations"]] == ["haystack"]


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def listened(mongo_uri: str, db_name: str) -> AsyncIterator[tuple[Database, _Commands]]:
    listener = _Commands()
    db = connect(mongo_uri, db_name=db_name, event_listeners=[listener])
    try:
        yield db, listener
    finally:
        await db.close()


async def test_every_command_a_request_sends_carries_max_time_ms(
    mongo_uri: str, database: Database, listened: tuple[Database, _Commands]
) -> None:
    await insert_conversation(database, ALICE, title="one")
    db, listener = listened
    # No feed: its background reads are not requests.
    settings = make_settings(mongo_uri, request_timeout_s=3, change_feed="off")
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app), await _client(app) as client:
        listener.commands.clear()
        assert (await client.get("/api/convos", headers=auth(ALICE))).status_code == 200
        graphql = await client.post(
            "/graphql", json={"query": "{ conversations { totalCount } }"}, headers=auth(ALICE)
        )
        assert graphql.json()["data"]["conversations"]["totalCount"] == 1
    queries = [c for c in listener.commands if {"find", "count", "aggregate"} & set(c)]
    assert queries
    assert all(0 < c["maxTimeMS"] <= 3500 for c in queries)


async def test_a_client_that_disconnects_cancels_its_request() -> None:
    cancelled = asyncio.Event()
    entered = asyncio.Event()

    async def slow(request: Request) -> Response:
        entered.set()
        try:
            await asyncio.Event().wait()  # stands for database work nobody awaits any more
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return PlainTextResponse("never")

    app = RequestDeadline(Starlette(routes=[Route("/slow", slow)]), seconds=60)
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        message = next(messages, None)
        if message is not None:
            return message
        await entered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/slow",
        "raw_path": b"/slow",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "http_version": "1.1",
    }
    await asyncio.wait_for(app(scope, receive, send), 30)
    assert cancelled.is_set()
    assert sent == []


async def test_writes_carry_no_max_time_ms_so_a_retried_write_is_not_cut_between_writes(
    mongo_uri: str, database: Database, listened: tuple[Database, _Commands]
) -> None:
    conversation = await insert_conversation(database, ALICE, title="one")
    cid = conversation["conversationId"]
    db, listener = listened
    settings = make_settings(mongo_uri, request_timeout_s=3, change_feed="off")
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app), await _client(app) as client:
        listener.commands.clear()
        rest = await client.post(
            "/api/convos/update",
            json={"arg": {"conversationId": cid, "title": "two"}},
            headers=auth(ALICE),
        )
        assert rest.status_code == 201
        graphql = await client.post(
            "/graphql",
            json={
                "query": "mutation($id: String!, $t: String!) {"
                " updateConversationTitle(conversationId: $id, title: $t) { title } }",
                "variables": {"id": cid, "t": "three"},
            },
            headers=auth(ALICE),
        )
        assert graphql.json()["data"]["updateConversationTitle"]["title"] == "three"
    writes = [c for c in listener.commands if {"findAndModify", "update", "insert"} & set(c)]
    assert len(writes) >= 2
    assert not [c for c in writes if "maxTimeMS" in c]
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and stored["title"] == "three"
