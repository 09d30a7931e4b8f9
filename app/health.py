"""``/ready``: whether this process can serve, for load balancers and orchestrators.

``/health`` (app/main.py) is liveness and touches nothing. ``/ready`` pings
every dependency a request needs, concurrently, each within
``READY_TIMEOUT_MS``: MongoDB always; Redis when ``REDIS_URI`` is set, and the
rate-limit storage when ``RATE_LIMIT_STORAGE_URI`` is a Redis (requests that
spend a budget fail closed without it). 200 when all answer, else 503 naming
what is down. Each probe is a fresh check, so the answer follows an outage and
its recovery; nothing is cached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pymongo
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from app import metrics
from app.jsonutil import JSONResponse
from app.settings import Settings
from storage.database import Database

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


def _mongo_check(database: Database, timeout_s: float) -> Check:
    async def ping() -> None:
        # The driver's own deadline (server selection included): no cancelled I/O.
        with pymongo.timeout(timeout_s):
            await database.client.admin.command("ping")

    return ping


def _redis_check(uri: str, timeout_s: float) -> Check:
    async def ping() -> None:
        # A connection of its own per probe: probes are rare, and a broken
        # pooled connection must not make a recovered Redis look down.
        client = Redis.from_url(uri, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                await client.ping()
        finally:
            await client.aclose()

    return ping


def redis_uris(settings: Settings) -> dict[str, str]:
    """The Redis servers this configuration depends on, by the name /ready reports."""
    uris: dict[str, str] = {}
    if settings.redis_uri:
        uris["redis"] = settings.redis_uri
    storage = settings.rate_limit_storage_uri
    if storage.startswith(_REDIS_SCHEMES) and storage not in uris.values():
        uris["rate_limit_storage"] = storage.replace("redis+unix://", "unix://", 1)
    return uris


class Readiness:
    """The /ready endpoint over this app's dependencies."""

    def __init__(self, settings: Settings, database: Database) -> None:
        timeout_s = settings.ready_timeout_ms / 1000
        self.checks: dict[str, Check] = {"mongodb": _mongo_check(database, timeout_s)}
        for name, uri in redis_uris(settings).items():
            self.checks[name] = _redis_check(uri, timeout_s)

    async def _up(self, name: str, check: Check) -> bool:
        try:
            await check()
        except Exception as exc:  # any failure means "down"; the reason goes to the log
            log.warning("ready: %s is down (%s)", name, type(exc).__name__)
            up = False
        else:
            up = True
        metrics.dependency_up(name, up)
        return up

    async def endpoint(self, request: Request) -> Response:
        names = list(self.checks)
        results = await asyncio.gather(*(self._up(n, self.checks[n]) for n in names))
        checks = {name: "up" if up else "down" for name, up in zip(names, results, strict=True)}
        down = [name for name, up in zip(names, results, strict=True) if not up]
        if down:
            body = {"status": "unavailable", "down": down, "checks": checks}
            return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})
        body = {"status": "ready", "checks": checks}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
