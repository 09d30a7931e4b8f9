"""The outermost ASGI layer: request ids, access log, HTTP metrics, open WebSockets.

Pure ASGI (not Starlette's BaseHTTPMiddleware, which runs the app in another
task and buffers nothing but costs a task and a memory stream per request):
it wraps ``send`` to add ``X-Request-ID`` and read the status, and times the
call. It sits outside Starlette's error middleware, so a 500 carries the
header and is counted too.

It also keeps the open WebSocket connections, so that a graceful stop can
close them with 1001 (going away) before uvicorn drops them with 1012.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics, request_context
from app.log_format import ACCESS_LOGGER
from app.request_context import REQUEST_ID_HEADER, RequestInfo

access_log = logging.getLogger(ACCESS_LOGGER)

GOING_AWAY = 1001


@dataclass(eq=False, slots=True)
class _WebSocket:
    send: Send
    accepted: bool = False
    closed: bool = False


class OpenWebSockets:
    """The WebSocket connections open now, for a graceful stop."""

    def __init__(self) -> None:
        self._open: set[_WebSocket] = set()

    def __len__(self) -> int:
        return len(self._open)

    def add(self, socket: _WebSocket) -> None:
        self._open.add(socket)

    def discard(self, socket: _WebSocket) -> None:
        self._open.discard(socket)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "Server shutting down") -> None:
        """Close every accepted connection; the app's later sends on it are dropped."""
        for socket in list(self._open):
            if socket.accepted and not socket.closed:
                socket.closed = True
                with contextlib.suppress(Exception):
                    await socket.send({"type": "websocket.close", "code": code, "reason": reason})


class RequestObserver:
    """Request id, timing, metrics and access log around the whole app."""

    def __init__(self, app: ASGIApp, *, websockets: OpenWebSockets, metrics_on: bool) -> None:
        self.app = app
        self.websockets = websockets
        self.metrics_on = metrics_on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_context.request_id_from(scope["headers"])
        info = RequestInfo(request_id, scope["method"], scope)
        header = (REQUEST_ID_HEADER, info.request_id.encode())
        status = 500  # what the client sees if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        leave = request_context.enter(info)
        if self.metrics_on:
            metrics.http_started()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            if self.metrics_on:
                metrics.http_ended()
                metrics.observe_http(info.route, info.method, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                _access_line(info, status, elapsed)
            leave()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        info = RequestInfo(request_context.request_id_from(scope["headers"]), "WEBSOCKET", scope)
        header = (REQUEST_ID_HEADER, info.request_id.encode())
        socket = _WebSocket(send)
        status = 403  # refused before the handshake completed

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if socket.closed:
                # Closed by a graceful stop: the app's goodbyes go nowhere.
                return
            if message["type"] == "websocket.accept":
                message["headers"] = [*message.get("headers", ()), header]
                socket.accepted = True
                status = 101
                metrics.websocket_opened()
            await send(message)

        leave = request_context.enter(info)
        self.websockets.add(socket)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, tracked_send)
        finally:
            self.websockets.discard(socket)
            if socket.accepted:
                metrics.websocket_closed()
            if access_log.isEnabledFor(logging.INFO):
                _access_line(info, status, time.perf_counter() - start)
            leave()


def _access_line(info: RequestInfo, status: int, seconds: float) -> None:
    route = info.route or metrics.UNMATCHED
    duration_ms = round(seconds * 1000, 1)
    target = f"{route} ({info.operation})" if info.operation else route
    access_log.info(
        "%s %s %s %.1f ms",
        info.method,
        target,
        status,
        duration_ms,
        extra={"method": info.method, "status": status, "duration_ms": duration_ms},
    )
