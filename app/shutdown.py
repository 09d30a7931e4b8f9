"""A graceful stop for ``convos-gateway serve``.

On SIGTERM (or SIGINT) uvicorn stops accepting, lets in-flight requests finish
for ``SHUTDOWN_GRACE_S`` (then cancels them), runs the app's shutdown, and
returns; the CLI then stops the embedded database. Two things are added here:

- WebSockets are closed with 1001 (going away: reconnect elsewhere) as soon
  as the stop begins, not with uvicorn's 1012 after the grace period;
- uvicorn re-raises the signal it caught once it has stopped. For SIGTERM the
  default action would kill the process before the embedded database is
  stopped in order, and report death by signal; :func:`exit_cleanly_on_sigterm`
  turns it into ``SystemExit(0)``, so the ``with`` blocks unwind and the
  process exits 0.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn


class GracefulServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 when it stops."""

    def __init__(
        self, config: uvicorn.Config, close_websockets: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(config)
        self._close_websockets = close_websockets

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting first (uvicorn does it again: harmless)
        await self._close_websockets()
        await super().shutdown(sockets)


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM outside uvicorn's own handling (start-up, or its re-raise) exits 0, in order."""
    signal.signal(signal.SIGTERM, _exit_zero)
