"""A small graphql-transport-ws client for tests (websockets' asyncio client)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
# Generous: only reached when something is broken, never asserted on.
WAIT_S = 10.0


class GraphQLWS:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), WAIT_S)
        # graphql-transport-ws is text frames only (browser clients ignore binary).
        assert isinstance(raw, str), "binary frame"
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        return await self.receive()

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def closed(self) -> tuple[int | None, str | None]:
        """Wait for the server to close; its close code and reason."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(self.connection.recv(), WAIT_S)
        return self.connection.close_code, self.connection.close_reason


@contextlib.asynccontextmanager
async def graphql_ws(
    base_url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[GraphQLWS]:
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with connect(
        url, subprotocols=[PROTOCOL], additional_headers=headers or {}, open_timeout=WAIT_S
    ) as connection:  # type: ignore[list-item]
        yield GraphQLWS(connection)
