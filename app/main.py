"""The ASGI application: REST compatibility routes and GraphQL on shared services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app import metrics
from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.deadlines import RequestDeadline
from app.events import LocalEvents, RedisEvents
from app.feed import build_feed
from app.graphql.graphiql import ASSETS_DIR
from app.graphql.persisted_queries import PersistedQueries
from app.graphql.schema import make_schema
from app.graphql.view import GraphQLApp
from app.jsonutil import JSONResponse
from app.observability import observe, operator_routes, start_metrics_port
from app.openapi import routes as openapi_routes
from app.rate_limits import build_rate_limiter
from app.rest import bulk, convos, exports, imports, messages, tags
from app.settings import Settings
from app.tracing import Tracing
from resolvers.adapters.redis_locks import RedisUserLocks
from resolvers.adapters.redis_retry import stale_connection_retry
from resolvers.adapters.services import Services
from resolvers.importing import operation as import_ops
from resolvers.operations.locks import UserLocks
from resolvers.titles import build_title_service
from storage.database import Database, connect
from storage.indexes import ensure_indexes

log = logging.getLogger("convos_gateway")

# How often index creation is retried while the database is unreachable at start.
_INDEX_RETRY_S = 5.0
# Where GraphiQL's vendored scripts are served (only when GRAPHIQL is on).
_GRAPHIQL_ASSETS = "/graphiql"


async def _health(request: Request) -> Response:
    # LibreChat's /health answers "OK" without auth.
    return PlainTextResponse("OK")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Express (LibreChat) has no 405: a method a path does not serve is an
    # unknown route there, e.g. DELETE /api/convos/<id> answers 404.
    if exc.status_code in (404, 405):
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
    tracing: Tracing | None = None,
    graphiql_token: str | None = None,
) -> Starlette:
    """Build the application.

    Args:
        settings: the configuration; it must carry a JWT secret already
            (see ``Settings.with_secret``).
        database: an existing connection (tests share one); default: connect
            to ``settings.mongo_uri`` at start-up.
        on_ready: called once the database answers and indexes exist.
        mongo_options: extra ``AsyncMongoClient`` options (e.g. command listeners).
        tracing: OpenTelemetry spans for requests, operations and MongoDB
            commands (``Tracing.from_env()``); None: no instrumentation at all.
        graphiql_token: a token GraphiQL's Headers tab opens with (development
            only: ignored in production).
    """
    if not settings.jwt_secret:
        raise ValueError("settings without a JWT secret; call Settings.with_secret() first")
    verifier = TokenVerifier(settings.jwt_secret, leeway_s=settings.jwt_leeway_s)
    proxies = TrustedProxies(settings.trusted_proxies)
    rate_limiter = build_rate_limiter(settings)

    if tracing is not None:
        # Only our own client gets the listener; a caller's database is theirs.
        listeners = [*(mongo_options or {}).get("event_listeners", []), *tracing.mongo_listeners()]
        mongo_options = {**(mongo_options or {}), "event_listeners": listeners}
    own_database = database is None
    if database is None:
        if settings.mongo_uri is None:
            raise ValueError("no MONGO_URI: the CLI starts the embedded database first")
        # The client connects lazily, inside the server's event loop.
        options = dict(mongo_options or {})
        database = connect(
            settings.mongo_uri,
            default_db=settings.mongo_db_name,
            timeout_ms=settings.mongo_timeout_ms,
            journal=settings.mongo_write_journal,
            event_listeners=[*options.pop("event_listeners", ()), *metrics.mongo_listeners()],
            **options,
        )
    db = database
    # One Redis client for persisted queries and events when REDIS_URI is set.
    redis = (
        Redis.from_url(
            settings.redis_uri,
            **stale_connection_retry(),
        )
        if settings.redis_uri
        else None
    )
    events: LocalEvents | RedisEvents = (
        RedisEvents(redis, settings.events_channel, settings.event_queue_size)
        if redis is not None
        else LocalEvents(settings.event_queue_size)
    )
    services = Services(
        database=db,
        events=events,
        rate_limiter=rate_limiter,
        titles=build_title_service(settings) if settings.title_generation else None,
        max_messages_per_conversation=settings.max_messages_per_conversation,
        import_observer=metrics.IMPORT_METRICS,
        # One user's tag changes wait for each other across replicas too.
        locks=RedisUserLocks(
            redis, lease_s=settings.tag_lock_lease_s, wait_s=settings.tag_lock_wait_s
        )
        if redis is not None
        else UserLocks(wait_s=settings.tag_lock_wait_s),
    )

    # Every writer's changes (LibreChat's too) for live events and search.
    feed = build_feed(settings, db, events)
    if settings.metrics_enabled:
        metrics.watch_change_feed(feed.feed)
    services.search_index = feed.index

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        index_task: asyncio.Task[None] | None = None
        try:
            await asyncio.wait_for(ensure_indexes(db), timeout=settings.mongo_timeout_ms / 1000)
        except (PyMongoError, TimeoutError) as exc:
            log.warning("database not reachable at start-up (%s); serving 503 until it is", exc)
            index_task = asyncio.create_task(_indexes_until_ready(db))
        if isinstance(events, RedisEvents):
            await events.start()
        # Imports: the pool's limits, and the sweep of imports a crash left hidden.
        import_sweep = import_ops.start_imports(
            services,
            import_ops.ImportOptions(
                max_concurrent=settings.import_max_concurrent,
                max_concurrent_per_user=settings.import_max_concurrent_per_user,
                abandon_after=timedelta(minutes=settings.import_abandon_after_min),
                temp_dir=settings.import_temp_dir,
            ),
        )
        feed.start()
        if on_ready is not None:
            on_ready()
        stop_metrics_port = start_metrics_port(settings)
        try:
            yield
        finally:
            stop_metrics_port()
            import_sweep.cancel()
            await feed.stop()
            if index_task is not None:
                index_task.cancel()
            await rate_limiter.close()
            if services.titles is not None:
                await services.titles.aclose()
            if isinstance(events, RedisEvents):
                await events.stop()
            if redis is not None:
                await redis.aclose()
            if own_database:
                await db.close()

    graphql = GraphQLApp(
        make_schema(settings, tracing),
        settings,
        services,
        verifier,
        proxies,
        persisted=PersistedQueries.from_settings(settings, redis),
        assets_url=_GRAPHIQL_ASSETS,
        graphiql_token=graphiql_token,
    )
    graphiql: list[BaseRoute] = (
        [Mount(_GRAPHIQL_ASSETS, StaticFiles(directory=ASSETS_DIR), name="graphiql")]
        if settings.graphiql
        else []
    )
    app = Starlette(
        routes=[
            Route("/health", _health, methods=["GET"]),
            *openapi_routes,
            *operator_routes(settings, db),
            *imports.routes,
            # Before convos: GET /api/convos/export is not a conversation id.
            *bulk.routes,
            *exports.routes,
            *convos.routes,
            *tags.routes,
            *messages.routes,
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *graphiql,
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    # One deadline per request on both edges, sent to MongoDB as maxTimeMS.
    app.add_middleware(
        RequestDeadline,
        seconds=settings.request_timeout_s,
        database_up=lambda: db.client.topology_description.has_readable_server(),
    )
    if tracing is not None:
        # Before observe(): it builds the middleware stack, after which none can be added.
        tracing.instrument_app(app)
    observe(app, settings)
    app.state.settings = settings
    app.state.verifier = verifier
    app.state.services = services
    app.state.proxies = proxies
    app.state.events = events
    app.state.feed = feed
    return app
