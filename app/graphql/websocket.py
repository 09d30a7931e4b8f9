"""graphql-transport-ws: text frames, auth at ``connection_init``, token expiry.

Browsers cannot set headers on a WebSocket handshake, so the token comes from
the ``connection_init`` payload (``Authorization: Bearer ...`` or ``token``),
else from the handshake's Authorization header. A connection whose token
expires is closed (4403), as a new one with that token would be refused.
A user holds at most ``GRAPHQL_WS_MAX_CONNECTIONS_PER_USER`` connections open
in this process; one more is closed at ``connection_init`` with 4429.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import jwt
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from app.jsonutil import dumps

_EXPIRY_TASK = "graphql_token_expiry"
_COUNTED_USER = "graphql_ws_counted_user"
TOO_MANY_CONNECTIONS: Final = (4429, "Too many connections")


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends protocol messages as text frames.

    Strawberry sends bytes as binary frames, and our encoder returns bytes;
    graphql-transport-ws clients (graphql-ws in browsers) only read text.
    """

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


def authorization_header(params: Mapping[str, Any], handshake: Any) -> str | None:
    """The ``Authorization`` value of a connection: its init payload, else its handshake."""
    header: str | None = None
    for key in ("Authorization", "authorization"):
        value = params.get(key)
        if isinstance(value, str):
            header = value
    token = params.get("token")
    if header is None and isinstance(token, str):
        header = f"Bearer {token}"
    if header is None and handshake is not None:
        header = handshake.headers.get("authorization")
    return header


def close_at_expiry(websocket: WebSocket, header: str, leeway_s: float) -> None:
    """Close the connection (4403) when its token expires.

    The header's token must already be verified; only its expiry is read.
    """
    token = header.partition(" ")[2].strip()
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    if not isinstance(exp, int | float):
        return
    delay = exp + leeway_s - time.time()

    async def close_later() -> None:
        await asyncio.sleep(max(0.0, delay))
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=4403, reason="Token expired")

    websocket.scope.setdefault("state", {})[_EXPIRY_TASK] = asyncio.create_task(close_later())


def cancel_expiry(scope: Mapping[str, Any]) -> None:
    """Stop the expiry timer of a connection that ended before its token did."""
    task = scope.get("state", {}).pop(_EXPIRY_TASK, None)
    if task is not None:
        task.cancel()


class ConnectionRefused(Exception):
    """Raised by ``on_ws_connect`` to close the socket with its own code and reason.

    Strawberry closes every ``ConnectionRejectionError`` with 4403; a full
    connection budget is not a bad token, so it gets its own close code.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, closing with a :class:`ConnectionRefused`'s code."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ConnectionRefused as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)


class ConnectionsPerUser:
    """The WebSockets each user holds open in this process, up to ``limit`` (0: no cap).

    Per process: replicas each allow ``limit``; a shared count would need
    Redis bookkeeping that survives crashed processes, which this does not.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def open(self, user: str) -> int:
        return self._open[user]

    def acquire(self, websocket: WebSocket, user: str) -> None:
        """Count ``websocket`` against ``user``, released by :meth:`release`.

        Raises:
            ConnectionRefused: 4429, the user already holds ``limit`` connections.
        """
        if self.limit and self._open[user] >= self.limit:
            raise ConnectionRefused(*TOO_MANY_CONNECTIONS)
        self._open[user] += 1
        websocket.scope.setdefault("state", {})[_COUNTED_USER] = user

    def release(self, scope: Mapping[str, Any]) -> None:
        """Uncount the connection of ``scope``, if it was counted."""
        user = scope.get("state", {}).pop(_COUNTED_USER, None)
        if user is None:
            return
        self._open[user] -= 1
        if self._open[user] <= 0:
            del self._open[user]
