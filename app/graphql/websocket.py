"""graphql-transport-ws: text frames, auth at ``connection_init``, token expiry.

Browsers cannot set headers on a WebSocket handshake, so the token comes from
the ``connection_init`` payload (``Authorization: Bearer ...`` or ``token``),
else from the handshake's Authorization header. A connection whose token
expires is closed (4403), as a new one with that token would be refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

import jwt
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected

from app.jsonutil import dumps

_EXPIRY_TASK = "graphql_token_expiry"


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
