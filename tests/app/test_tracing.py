"""OpenTelemetry spans: HTTP request -> route or GraphQL operation -> MongoDB command."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from strawberry.extensions.tracing import OpenTelemetryExtension

from app.graphql.schema import schema_extensions
from app.main import create_app
from app.settings import Settings, SettingsError
from app.tracing import Tracing, tracing_requested
from storage.database import Database, connect
from tests.utils.factories import ALICE, auth, insert_conversation
from tests.utils.graphql import gql


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider)


@pytest.fixture
async def traced_client(
    settings: Settings, database: Database, mongo_uri: str, db_name: str, tracing: Tracing
) -> AsyncIterator[httpx.AsyncClient]:
    # The app's own client carries the listener, as create_app gives it in production.
    traced_db = connect(
        mongo_uri, db_name=db_name, timeout_ms=5000, event_listeners=tracing.mongo_listeners()
    )
    app = create_app(settings, database=traced_db, tracing=tracing)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield client
    finally:
        await traced_db.close()


def _by_name(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def _parent_chain(spans: Sequence[ReadableSpan], span: ReadableSpan) -> list[str]:
    """Names from ``span`` up to the trace's root."""
    by_id = {s.context.span_id: s for s in spans}
    names = [span.name]
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def test_tracing_is_off_unless_otel_variables_ask_for_it() -> None:
    assert not tracing_requested({})
    assert Tracing.from_env({"OTEL_SERVICE_NAME": "x"}) is None
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"} | {"OTEL_SDK_DISABLED": "true"}
    )
    assert not tracing_requested(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}
    )
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    on = Tracing.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"})
    assert on is not None
    on.shutdown()


def test_without_tracing_no_middleware_listener_or_extension_is_installed(
    settings: Settings, mongo_uri: str, tracing: Tracing
) -> None:
    traced = create_app(settings, tracing=tracing)
    app = create_app(settings)
    # The traced app wrapped copies of the routes, not the shared ones.
    assert [type(r.app) for r in app.routes] != [type(r.app) for r in traced.routes]
    assert not any("tracing" in type(getattr(r, "app", None)).__module__ for r in app.routes)
    assert not any(m.cls is OpenTelemetryMiddleware for m in app.user_middleware)
    extensions = [factory() for factory in schema_extensions(settings)]
    assert not any(isinstance(e, OpenTelemetryExtension) for e in extensions)
    services = app.state.services
    listeners = services.database.client.options.event_listeners
    assert not any("opentelemetry" in type(listener).__module__ for listener in listeners)


async def test_rest_request_traces_mongo_command_under_route_under_http_span(
    traced_client: httpx.AsyncClient, database: Database, exporter: InMemorySpanExporter
) -> None:
    convo = await insert_conversation(database, ALICE, title="Traced")
    exporter.clear()

    response = await traced_client.get(
        f"/api/convos/{convo['conversationId']}", headers=auth(ALICE)
    )

    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    find = _by_name(spans, f"{database.db.name}.find")
    assert find.kind is SpanKind.CLIENT
    assert find.attributes is not None and find.attributes.get("db.system") == "mongodb"
    assert _parent_chain(spans, find) == [
        f"{database.db.name}.find",
        "route GET /api/convos/{conversation_id}",
        "GET /api/convos/{conversation_id}",
    ]
    http = _by_name(spans, "GET /api/convos/{conversation_id}")
    assert http.kind is SpanKind.SERVER
    assert http.attributes is not None and http.attributes.get("http.route") == (
        "/api/convos/{conversation_id}"
    )
    # The conversation id never appears in a span name.
    assert not any(convo["conversationId"] in s.name for s in spans)


async def test_graphql_request_traces_mongo_command_under_operation_span(
    traced_client: httpx.AsyncClient, database: Database, exporter: InMemorySpanExporter
) -> None:
    convo = await insert_conversation(database, ALICE, title="Secret title")
    exporter.clear()

    response = await gql(
        traced_client,
        "query One($id: String!) { conversation(conversationId: $id) { title } }",
        {"id": convo["conversationId"]},
        user=ALICE,
    )

    assert response.json()["data"]["conversation"]["title"] == "Secret title"
    spans = exporter.get_finished_spans()
    find = _by_name(spans, f"{database.db.name}.find")
    assert _parent_chain(spans, find) == [
        f"{database.db.name}.find",
        "GraphQL Query: One",
        "POST /graphql",
    ]
    assert _parent_chain(spans, _by_name(spans, "GraphQL Parsing"))[1:] == [
        "GraphQL Query: One",
        "POST /graphql",
    ]
    # No span per resolver, and no variable (user content) recorded.
    assert not any(s.name.startswith("GraphQL Resolving") for s in spans)
    assert not any(convo["conversationId"] in str(s.attributes) for s in spans)


def test_tracing_extension_keeps_the_leaf_fast_path(settings: Settings, tracing: Tracing) -> None:
    # A resolve hook would be called for every field and turn the fast path off.
    extensions = [factory() for factory in schema_extensions(settings, tracing)]
    assert isinstance(extensions[0], OpenTelemetryExtension)
    assert not any(e._implements_resolve() for e in extensions)


async def test_query_strings_are_not_recorded(
    traced_client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    response = await traced_client.get("/api/convos?search=my+secret+words", headers=auth(ALICE))

    assert response.status_code == 200
    http = _by_name(exporter.get_finished_spans(), "GET /api/convos")
    assert http.attributes is not None and http.attributes["http.target"] == "/api/convos"
    assert not any("secret" in str(s.attributes) for s in exporter.get_finished_spans())


async def test_health_checks_are_not_traced(
    traced_client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    assert (await traced_client.get("/health")).status_code == 200
    assert exporter.get_finished_spans() == ()


def test_service_name_defaults_to_the_gateway_and_follows_otel_service_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    default = Tracing.from_env({"OTEL_TRACES_EXPORTER": "console"})
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-eu")
    named = Tracing.from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert default is not None and named is not None
    assert default.provider.resource.attributes["service.name"] == "convos-gateway"
    assert named.provider.resource.attributes["service.name"] == "gateway-eu"
    default.shutdown()
    named.shutdown()


def test_an_unknown_exporter_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        Tracing.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
