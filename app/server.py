"""How ``convos-gateway serve`` runs the app under uvicorn, with the limits uvicorn lacks.

One place decides every server-level limit (issue 9), each a setting:

- **Client IP.** uvicorn's own proxy-header handling is off
  (``proxy_headers=False``; it trusts loopback by default, so a same-host
  client could pick its rate-limit key with ``X-Forwarded-For``). Only
  ``TRUSTED_PROXIES`` (``app/client_ip.py``) decides whose header is believed.
- **Idle keep-alive**: uvicorn's ``timeout_keep_alive``.
- **Request header size, header and body read deadlines**: uvicorn has no
  option for them with httptools (``h11_max_incomplete_event_size`` applies
  to h11 only, a slower parser), and an ASGI app sees a request only once its
  headers are complete, too late to bound them. :class:`GuardedHttpToolsProtocol`,
  a small subclass of uvicorn's httptools protocol, enforces them where the
  bytes arrive: 431 past the header size, 408 past a deadline, then close.
- **A client that leaves mid-body**: :class:`DisconnectGuard`, pure ASGI, ends
  that request with one INFO line, where the app would log an ERROR with a
  traceback for the ``ClientDisconnect`` its body read raises.

The protocol subclass reads uvicorn's internals (``cycle``, ``parser``,
``STATUS_LINE``); uvicorn is pinned to a minor version in pyproject.toml and
tests/app/test_server_limits.py drives it over real sockets.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.settings import Settings

log = logging.getLogger("convos_gateway.server")


def client_address(client: Any) -> str:
    """``host:port`` of an ASGI scope's ``client``, for log lines."""
    return f"{client[0]}:{client[1]}" if client else "unknown client"


@dataclass(frozen=True)
class ServerLimits:
    """What one connection may take (see the SERVER_* settings)."""

    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    body_min_bytes_per_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_header_bytes=settings.server_max_header_bytes,
            header_timeout_s=settings.server_header_timeout_s,
            body_timeout_s=settings.server_body_timeout_s,
            body_min_bytes_per_s=settings.server_body_min_bytes_per_s,
        )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header size and read deadlines.

    - Headers: at most ``max_header_bytes`` (request line included), all
      received within ``header_timeout_s`` of the connection opening or of
      the request's first byte; else 431 or 408, and the connection closes.
      Raw bytes are counted while headers are incomplete, so a huge header
      is refused after a few reads instead of being buffered whole.
    - Body: received within ``body_timeout_s`` plus one second per
      ``body_min_bytes_per_s`` bytes received (a slow but steady upload
      keeps going; a client dripping bytes does not); else 408 and close.

    Subclasses made by :func:`guarded_protocol` set ``limits``.
    """

    limits: ClassVar[ServerLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_headers = True
        self._raw_header_bytes = 0  # bytes read while the headers were incomplete
        self._read_size = 0  # bytes of the read being parsed
        self._messages = 0
        self._in_message = False  # a request has begun and is not fully received
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0

    # -- deadlines ---------------------------------------------------------
    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier request on this connection is still being answered:
            # the slow party is the app, not the client.
            self._arm(self.limits.header_timeout_s, self._headers_late)
            return
        self._refuse(408 if self._in_message else None, "headers late")

    def _body_late(self) -> None:
        self._deadline = None
        allowed = self.limits.body_timeout_s
        if self.limits.body_min_bytes_per_s:
            allowed += self._body_bytes / self.limits.body_min_bytes_per_s
        remaining = self._body_started + allowed - self.loop.time()
        if remaining > 0:
            self._arm(remaining, self._body_late)
            return
        started = self.cycle is not None and self.cycle.response_started
        self._refuse(None if started else 408, "request body late")

    def _refuse(self, status: int | None, reason: str) -> None:
        """Answer ``status`` (None: nothing) and close the connection."""
        self._refused = True
        self._disarm()
        log.info("closed connection from %s: %s", client_address(self.client), reason)
        if self.transport.is_closing():
            return
        if status is not None:
            self.transport.write(
                STATUS_LINE[status] + b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()

    # -- asyncio.Protocol --------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a request is closed too.
        self._arm(self.limits.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        in_headers = self._in_message and self._reading_headers
        if self._in_message and not in_headers:
            self._body_bytes += len(data)
        messages, self._read_size = self._messages, len(data)
        super().data_received(data)
        if self._refused or not self._in_message:
            return  # the common case: whole requests per read, no timer at all
        if self._reading_headers:
            # Headers still incomplete: count this read against them only
            # when it held nothing of an earlier message (an undercount of at
            # most one read, never a refusal of a legitimate pipelined request).
            self._raw_header_bytes = (
                self._raw_header_bytes + len(data)
                if in_headers and messages == self._messages
                else 0
            )
            if self._raw_header_bytes > self.limits.max_header_bytes:
                self._refuse(431, "request headers too large")
                return
        if self._deadline is None:
            # A request is partly received: its deadline runs from here.
            if self._reading_headers:
                self._arm(self.limits.header_timeout_s, self._headers_late)
            else:
                self._body_started = self.loop.time()
                self._arm(self.limits.body_timeout_s, self._body_late)

    # -- httptools callbacks -----------------------------------------------
    def on_message_begin(self) -> None:
        self._messages += 1
        self._in_message = True
        super().on_message_begin()

    def _header_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        if self._deadline is not None:
            self._disarm()
        if self._refused:
            return
        # Measured only when the reads could hold that much: no per-header cost.
        limit = self.limits.max_header_bytes
        if self._raw_header_bytes + self._read_size > limit and self._header_size() > limit:
            self._refuse(431, "request headers too large")
            return
        self._raw_header_bytes = 0
        super().on_headers_complete()
        self._body_bytes = 0
        if self.cycle is None or self.cycle.scope is not self.scope:
            self._in_message = False  # a WebSocket upgrade: no HTTP request left to time

    def on_body(self, body: bytes) -> None:
        if not self._refused:  # refused at its headers: no app reads this body
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        if self._deadline is not None:
            self._disarm()
        self._in_message = False
        self._reading_headers = True
        super().on_message_complete()


def guarded_protocol(limits: ServerLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for uvicorn's ``http=`` option, enforcing ``limits``."""
    return type("GuardedHttpTools", (GuardedHttpToolsProtocol,), {"limits": limits})


class _ClientGone(BaseException):
    """Raised where the app reads the body of a client that has left.

    A BaseException, as a cancellation is: the request is over, and no
    ``except Exception`` on the way (error pages, error logging) should treat
    it as the app's failure.
    """


def _only_client_gone(exc: BaseException) -> bool:
    if isinstance(exc, _ClientGone):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(_ClientGone)[1] is None
    return False


class DisconnectGuard:
    """Ends an HTTP request quietly when its client leaves before sending the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_complete = False

        async def guarded_receive() -> Message:
            nonlocal body_complete
            message = await receive()
            if message["type"] == "http.request":
                body_complete = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not body_complete:
                raise _ClientGone
            return message

        try:
            await self.app(scope, guarded_receive, send)
        except BaseException as exc:
            if not _only_client_gone(exc):
                raise
            client = scope.get("client")
            log.info(
                "client %s left before sending its whole request: %s %s",
                client_address(client),
                scope.get("method"),
                scope.get("path"),
            )


def server_options(app: ASGIApp, settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config``: how ``serve`` runs ``app``."""
    return {
        "app": DisconnectGuard(app),
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.log_level == "debug",
        # The client IP is TRUSTED_PROXIES' decision alone (app/client_ip.py).
        "proxy_headers": False,
        "http": guarded_protocol(ServerLimits.from_settings(settings)),
        "timeout_keep_alive": settings.server_keepalive_timeout_s,
        # One WebSocket message is one GraphQL request: same cap as a body.
        "ws_max_size": settings.max_body_bytes,
    }
