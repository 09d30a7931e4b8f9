"""GRAPHQL_WS_MAX_CONNECTIONS_PER_USER: one user's open WebSockets are capped (issue 9, item 7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from app.graphql.view import GraphQLApp
from app.main import create_app
from app.settings import Settings
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, token
from tests.utils.servers import running
from tests.utils.ws import GraphQLWS, graphql_ws

ACK = {"type": "connection_ack"}


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri, ws_max_connections_per_user=2)


@contextlib.asynccontextmanager
async def connected(base: str, user: str) -> AsyncIterator[tuple[GraphQLWS, dict[str, object]]]:
    async with graphql_ws(base) as ws:
        ack = await ws.init({"Authorization": f"Bearer {token(user)}"})
        yield ws, ack


async def until_open(app: Starlette, user: str, count: int) -> None:
    """Wait until the server's side has counted ``count`` connections of ``user``."""
    [view] = [r.app for r in app.routes if isinstance(r, WebSocketRoute)]
    assert isinstance(view, GraphQLApp)
    for _ in range(1000):
        if view.ws_connections.open(user) == count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{user} has {view.ws_connections.open(user)} connections open")


async def test_a_connection_past_the_cap_closes_with_4429_at_connection_init(
    settings: Settings, database: Database
) -> None:
    async with (
        running(create_app(settings, database=database)) as base,
        connected(base, ALICE) as (_, first),
        connected(base, ALICE) as (_, second),
        graphql_ws(base) as third,
    ):
        assert (first, second) == (ACK, ACK)
        await third.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token(ALICE)}"}}
        )
        assert await third.closed() == (4429, "Too many connections")


async def test_the_cap_is_per_user(settings: Settings, database: Database) -> None:
    async with (
        running(create_app(settings, database=database)) as base,
        connected(base, ALICE),
        connected(base, ALICE),
        connected(base, BOB) as (_, bob),
    ):
        assert bob == ACK


async def test_a_closed_connection_frees_its_place(settings: Settings, database: Database) -> None:
    app = create_app(settings, database=database)
    async with running(app) as base, connected(base, ALICE):
        async with connected(base, ALICE) as (ws, ack):
            assert ack == ACK
            await ws.connection.close()
        # The server releases the place when its side of the connection ends.
        await until_open(app, ALICE, 1)
        async with connected(base, ALICE) as (_, again):
            assert again == ACK


async def test_refused_and_unauthenticated_connections_take_no_place(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings, database=database)
    async with running(app) as base:
        async with graphql_ws(base) as anonymous:
            await anonymous.send({"type": "connection_init", "payload": {}})
            assert (await anonymous.closed())[0] == 4403
        async with connected(base, ALICE), connected(base, ALICE), graphql_ws(base) as refused:
            await refused.send(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token(ALICE)}"}}
            )
            assert (await refused.closed())[0] == 4429
        await until_open(app, ALICE, 0)
        async with connected(base, ALICE) as (_, first), connected(base, ALICE) as (_, second):
            assert (first, second) == (ACK, ACK)


async def test_zero_turns_the_cap_off(mongo_uri: str, database: Database) -> None:
    settings = make_settings(mongo_uri, ws_max_connections_per_user=0)
    async with (
        running(create_app(settings, database=database)) as base,
        contextlib.AsyncExitStack() as stack,
    ):
        for _ in range(4):
            _, ack = await stack.enter_async_context(connected(base, ALICE))
            assert ack == ACK
