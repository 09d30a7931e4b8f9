"""Recording the commands a PyMongo client sends (command monitoring)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pymongo import monitoring
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from storage.database import connect

# Commands the driver sends on its own (handshakes, monitoring, sessions).
_HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})


def is_background(event: monitoring.CommandStartedEvent) -> bool:
    """Work the app does on its own, not for a request: the driver's
    housekeeping and the periodic sweep of abandoned imports."""
    if event.command_name in _HOUSEKEEPING:
        return True
    return event.command_name == "delete" and "_importId" in repr(event.command)


class CommandLog(monitoring.CommandListener):
    """The commands the client started, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if is_background(event):
            return
        with self._lock:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """The commands since the last call, and forget them."""
        with self._lock:
            commands, self.commands = self.commands, []
        return commands

    def reads_of(self, commands: list[tuple[str, dict[str, Any]]], collection: str) -> int:
        """How many of ``commands`` read ``collection`` (find, aggregate, count...)."""
        reads = {"find", "aggregate", "count", "distinct"}
        return sum(1 for name, body in commands if name in reads and body.get(name) == collection)


@contextlib.asynccontextmanager
async def monitored_app(
    settings: Settings, mongo_uri: str, db_name: str, log: CommandLog
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The app on its own client (with ``log`` listening), lifespan entered."""
    counted = connect(mongo_uri, db_name=db_name, event_listeners=[log])
    app: Starlette = create_app(settings, database=counted)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield app, client
    finally:
        await counted.close()
