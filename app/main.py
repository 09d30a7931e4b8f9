"""The ASGI application: REST compatibility routes and GraphQL on shared services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.graphql_app import GraphQLApp, make_schema
from app.jsonutil import JSONResponse
from app.rate_limits import build_rate_limiter
from app.rest import convos, imports, tags
from app.settings import Settings
from resolvers.services import Services
from storage.database import Database, connect
from storage.indexes import ensure_indexes

log = logging.getLogger("convos_gateway")

# How often index creation is retried while the database is unreachable at start.
_INDEX_RETRY_S = 5.0


async def _health(request: Request) -> Response:
    # LibreChat's /health answers "OK" without auth.
    return PlainTextResponse("OK")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return JSONResponse({"message": "Endpoint not found"}, status_code=404)
    return JSONResponse({"message": exc.detail}, status_code=exc.status_code)


async def _indexes_until_ready(database: Database) -> None:
    """Create indexes, retrying in the background while the database is down."""
    while True:
        try:
            await ensure_indexes(database)
            return
        except PyMongoError as exc:
            log.warning("database not reachable yet (%s); retrying index creation", exc)
            await asyncio.sleep(_INDEX_RETRY_S)


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    on_ready: Callable[[], None] | None = None,
    mongo_options: dict[str, Any] | None = None,
) -> Starlette:
    """Build the application.

    Args:
        settings: the configuration; it must carry a JWT secret already
            (see ``Settings.with_secret``).
        database: an existing connection (tests share one); default: connect
            to ``settings.mongo_uri`` at start-up.
        on_ready: called once the database answers and indexes exist.
        mongo_options: extra ``AsyncMongoClient`` options (e.g. command listeners).
    """
    if not settings.jwt_secret:
        raise ValueError("settings without a JWT secret; call Settings.with_secret() first")
    verifier = TokenVerifier(settings.jwt_secret, leeway_s=settings.jwt_leeway_s)
    proxies = TrustedProxies(settings.trusted_proxies)
    rate_limiter = build_rate_limiter(settings)

    own_database = database is None
    if database is None:
        if settings.mongo_uri is None:
            raise ValueError("no MONGO_URI: the CLI starts the embedded database first")
        # The client connects lazily, inside the server's event loop.
        database = connect(
            settings.mongo_uri,
            default_db=settings.mongo_db_name,
            timeout_ms=settings.mongo_timeout_ms,
            **(mongo_options or {}),
        )
    db = database
    services = Services(database=db, rate_limiter=rate_limiter)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        index_task: asyncio.Task[None] | None = None
        try:
            await asyncio.wait_for(ensure_indexes(db), timeout=settings.mongo_timeout_ms / 1000)
        except (PyMongoError, TimeoutError) as exc:
            log.warning("database not reachable at start-up (%s); serving 503 until it is", exc)
            index_task = asyncio.create_task(_indexes_until_ready(db))
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            if index_task is not None:
                index_task.cancel()
            await rate_limiter.close()
            if own_database:
                await db.close()

    graphql = GraphQLApp(make_schema(settings), settings, services, verifier, proxies)
    app = Starlette(
        routes=[
            Route("/health", _health, methods=["GET"]),
            *imports.routes,
            *convos.routes,
            *tags.routes,
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.services = services
    app.state.proxies = proxies
    return app
