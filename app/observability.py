"""Wiring of the operator's endpoints into the app: /ready, /metrics, request observation.

app/main.py calls the three functions below, one line each.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app import metrics
from app.health import Readiness
from app.request_middleware import OpenWebSockets, RequestObserver
from app.settings import Settings
from storage.database import Database


async def _metrics(request: Request) -> Response:
    # No auth on purpose: scrapers carry no user token. Keep it off the
    # public port with METRICS_PORT when that matters.
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


def operator_routes(settings: Settings, database: Database) -> list[BaseRoute]:
    """``/ready``, and ``/metrics`` when it is on and has no port of its own."""
    metrics.configure(max_operations=settings.metrics_max_operations)
    routes: list[BaseRoute] = [
        Route("/ready", Readiness(settings, database).endpoint, methods=["GET"])
    ]
    if settings.metrics_enabled and settings.metrics_port is None:
        routes.append(Route("/metrics", _metrics, methods=["GET"]))
    return routes


def observe(app: Starlette, settings: Settings) -> None:
    """Put the request middleware outside Starlette's own stack (500s included).

    Starlette builds its stack lazily on the first call; building it here with
    our layer around it keeps ``ServerErrorMiddleware``'s 500 inside it.
    """
    app.state.websockets = OpenWebSockets()
    app.middleware_stack = RequestObserver(
        app.build_middleware_stack(),
        websockets=app.state.websockets,
        metrics_on=settings.metrics_enabled,
    )


def start_metrics_port(settings: Settings) -> Callable[[], None]:
    """Serve /metrics on METRICS_PORT when set; returns the function that stops it."""
    if not settings.metrics_enabled or settings.metrics_port is None:
        return lambda: None
    return metrics.serve_on_port(settings.metrics_host or settings.host, settings.metrics_port)
