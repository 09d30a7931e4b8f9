"""OpenTelemetry tracing: on when the standard ``OTEL_*`` variables ask for it.

Off (the default) nothing here is imported beyond this module: no
middleware, no MongoDB listener, no schema extension, so no per-request
cost. On, one trace per request reads

    HTTP span (ASGI middleware, named by route template)
    ├── REST route span ("route GET /api/convos/{conversation_id}")
    │   └── MongoDB command spans
    └── GraphQL operation span (Strawberry's extension, without resolver spans)
        ├── parsing and validation spans
        └── MongoDB command spans

The instrumentations are the maintained ones: opentelemetry-instrumentation-asgi,
Strawberry's OpenTelemetryExtension, and opentelemetry-instrumentation-pymongo's
``CommandTracer``. The latter is a pymongo ``CommandListener``; pymongo's
``AsyncMongoClient`` publishes command events synchronously inside the task
that awaits the command, so the listener sees the resolver's span as current
and parents correctly. It is passed to our client as an event listener
instead of ``PymongoInstrumentor().instrument()``, which registers it
process-wide (every client, including ones that should not be traced) and
binds the first tracer provider it sees for the life of the process.

Recorded: the path and route template, the GraphQL document (Strawberry's
``query`` attribute: clients should pass values as variables, which are not
recorded), MongoDB database, collection and command names. Not recorded:
query strings (``?search=`` is user text), headers, resolver arguments,
MongoDB statements.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.settings import SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span
    from pymongo.monitoring import CommandListener
    from starlette.applications import Starlette
    from strawberry.extensions import SchemaExtension
    from strawberry.extensions.tracing import OpenTelemetryExtension

SERVICE_NAME = "convos-gateway"
# Paths polled by orchestrators and scrapers: a trace each would drown the rest.
_UNTRACED_PATHS = ("/health", "/ready", "/metrics")
# REST routes whose handler gets its own span (GraphQL has the operation span).
_NO_ROUTE_SPAN = ("/graphql", *_UNTRACED_PATHS)


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for traces.

    ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` win; otherwise
    an OTLP endpoint or any other exporter name turns tracing on.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


class TracingError(SettingsError):
    """The OTEL_* variables name something this gateway cannot export to."""


class Tracing:
    """A tracer provider and the three instrumentation points that use it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Tracing | None:
        """Tracing exporting as ``OTEL_*`` says, or None when it asks for none.

        The exporter (OTLP over HTTP, or ``console``) reads its endpoint,
        headers and timeout from the same variables itself; spans leave in
        batches from a background thread.
        """
        e = os.environ if environ is None else environ
        if not tracing_requested(e):
            return None
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )

        name = e.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        elif name == "console":
            exporter = ConsoleSpanExporter()
        else:
            raise TracingError(f"OTEL_TRACES_EXPORTER={name!r}: use otlp, console or none")
        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still override the name.
        resource = Resource.create({"service.name": SERVICE_NAME}).merge(
            OTELResourceDetector().detect()
        )
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    def mongo_listeners(self) -> list[CommandListener]:
        """Event listeners for an ``AsyncMongoClient``: one span per command."""
        from opentelemetry.instrumentation.pymongo import CommandTracer
        from opentelemetry.trace import get_tracer

        return [
            CommandTracer(get_tracer("opentelemetry.instrumentation.pymongo", None, self.provider))
        ]

    def graphql_extension(self) -> Callable[[], SchemaExtension]:
        """A factory for the operation-span extension (see :func:`_operation_spans`)."""
        extension = _operation_spans()
        provider = self.provider
        return lambda: extension(tracer_provider=provider)

    def instrument_app(self, app: Starlette) -> None:
        """HTTP spans around the app and a span per REST route handler.

        Call before the app starts (Starlette builds its middleware stack then).
        """
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        # Copies: the route objects are module-level, shared by every app
        # this process builds (tests build many, with and without tracing).
        app.router.routes = [self._traced(route) for route in app.router.routes]
        app.add_middleware(
            OpenTelemetryMiddleware,
            # Matched against the full URL: scheme://host/path[?query].
            excluded_urls=",".join(rf"^[^/]+//[^/]+{p}/?(\?|$)" for p in _UNTRACED_PATHS),
            default_span_details=_method_only,
            server_request_hook=_drop_query,
            tracer_provider=self.provider,
            # Per-message receive/send spans double the span count for nothing.
            exclude_spans=["receive", "send"],
        )

    def _traced(self, route: BaseRoute) -> BaseRoute:
        if not isinstance(route, Route):
            return route
        traced = copy.copy(route)
        if route.path not in _NO_ROUTE_SPAN:
            traced.app = _RouteSpan(traced.app, route.path, self)
        # Outermost, so it renames the HTTP span before the route span opens.
        traced.app = _NameHttpSpan(traced.app, route.path)
        return traced

    def shutdown(self) -> None:
        """Flush the spans still batched and stop the exporter thread."""
        self.provider.shutdown()


def _operation_spans() -> type[OpenTelemetryExtension]:
    """Strawberry's OpenTelemetryExtension, operation spans only.

    Its ``resolve`` hook (a span per resolver) would make graphql-core call
    it for every field of the response, as a coroutine, and turns off the
    leaf fast path (resolvers/graphql/execution.py): measured with bench.requests,
    a page of 25 conversations cost 5.3x the floor's CPU instead of 1.7x.
    Without it, the operation span (with its parsing and validation spans)
    is made current while the operation executes, so MongoDB command spans
    nest under it; resolver arguments are then never recorded either.
    """
    from opentelemetry import trace
    from strawberry.extensions import LifecycleStep, SchemaExtension
    from strawberry.extensions.tracing import OpenTelemetryExtension

    class OperationSpans(OpenTelemetryExtension):
        resolve = SchemaExtension.resolve  # type: ignore[assignment]

        def on_execute(self) -> Iterator[None]:
            span = self._span_holder[LifecycleStep.OPERATION]
            with trace.use_span(span, end_on_exit=False):
                yield

    return OperationSpans


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The raw path would give every conversation id its own span name; the
    # route wrappers below rename the span to the template once routed.
    return str(scope.get("method") or scope.get("type", "HTTP")), {}


def _drop_query(span: Span, scope: Scope) -> None:
    """Keep query strings out of the HTTP span: ``?search=`` is user text."""
    if not scope.get("query_string") or not span.is_recording():
        return
    recorded = getattr(span, "attributes", None) or {}
    for name in ("http.url", "http.target", "url.full"):
        value = recorded.get(name)
        if isinstance(value, str):
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in recorded:
        span.set_attribute("url.query", "")


class _NameHttpSpan:
    """Renames the current (HTTP) span to ``METHOD /template`` once routed."""

    def __init__(self, app: ASGIApp, template: str) -> None:
        self.app = app
        self.template = template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry import trace

        span = trace.get_current_span()
        if span.is_recording():
            method = scope.get("method") or "WEBSOCKET"
            span.update_name(f"{method} {self.template}")
            span.set_attribute("http.route", self.template)
        await self.app(scope, receive, send)


class _RouteSpan:
    """A span around one REST route's handler, current while it runs."""

    def __init__(self, app: ASGIApp, template: str, tracing: Tracing) -> None:
        from opentelemetry.trace import get_tracer

        self.app = app
        self.template = template
        self.tracer = get_tracer("convos_gateway.rest", None, tracing.provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "")
        with self.tracer.start_as_current_span(
            f"route {method} {self.template}", attributes={"http.route": self.template}
        ):
            await self.app(scope, receive, send)
