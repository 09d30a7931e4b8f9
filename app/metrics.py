"""Every Prometheus metric of the gateway, and the small functions that feed them.

Other modules call the functions below (one line each), never
``prometheus_client`` directly, so names, labels and their bounds live here:

- labels are bounded: REST routes by their template (``/api/convos/{id}``),
  GraphQL operations by a name checked against ``[A-Za-z_][A-Za-z0-9_]{0,63}``
  with at most ``METRICS_MAX_OPERATIONS`` distinct ones (the rest: ``other``),
  MongoDB commands and error codes likewise capped;
- the labelled children are cached, so a request pays two dict lookups and
  two lock-protected additions, not prometheus_client's label resolution.

One registry per process (not prometheus_client's global one, which would also
export whatever other libraries register); the process and GC collectors are
added to it. With several uvicorn workers each worker has its own registry
(prometheus_client's multiprocess mode is not set up).

This module imports nothing from the gateway. ``storage`` and ``resolvers``
never import it (dependencies point app → resolvers → storage): ``app/main.py``
hands the MongoDB command listener to ``storage.database.connect``, the import
observer to ``Services`` and the rate-limit callback to the limiter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from pymongo import monitoring

REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"
ANONYMOUS = "anonymous"
UNMATCHED = "unmatched"  # a path no route serves (404): never the raw path
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CODE = re.compile(r"[A-Z0-9_]{1,64}")

HTTP_REQUESTS = Counter(
    "convos_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "convos_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    registry=REGISTRY,
)
HTTP_IN_PROGRESS = Gauge(
    "convos_http_requests_in_progress",
    "HTTP requests being served now (a graceful stop waits for them).",
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "convos_graphql_operations",
    "GraphQL operations by name and type (unnamed: anonymous).",
    ["operation", "type"],
    registry=REGISTRY,
)
GRAPHQL_DURATION = Histogram(
    "convos_graphql_operation_duration_seconds",
    "GraphQL query and mutation latency by name and type.",
    ["operation", "type"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "convos_errors",
    "Errors by code: GraphQL extensions.code, or the HTTP status (4xx, 5xx).",
    ["source", "code"],
    registry=REGISTRY,
)
MONGO_DURATION = Histogram(
    "convos_mongodb_command_duration_seconds",
    "MongoDB command latency by command name.",
    ["command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
MONGO_FAILURES = Counter(
    "convos_mongodb_command_failures",
    "MongoDB commands that failed, by command name.",
    ["command"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "convos_rate_limit_rejections",
    "Requests refused by a rate limit, by action.",
    ["action"],
    registry=REGISTRY,
)
IMPORTS_IN_PROGRESS = Gauge(
    "convos_imports_in_progress", "Conversation imports running now.", registry=REGISTRY
)
IMPORTED_CONVERSATIONS = Counter(
    "convos_imported_conversations",
    "Conversations written by imports (rate() gives conversations/s).",
    registry=REGISTRY,
)
WEBSOCKETS = Gauge(
    "convos_websocket_connections", "Open (accepted) WebSocket connections.", registry=REGISTRY
)
SUBSCRIPTIONS = Gauge(
    "convos_graphql_subscriptions_active", "GraphQL subscriptions running now.", registry=REGISTRY
)
CHANGE_FEED_LAG = Gauge(
    "convos_change_feed_lag_seconds",
    "Seconds since the change feed last read the database (grows while it cannot).",
    registry=REGISTRY,
)
CHANGE_FEED_CHANGES = Gauge(
    "convos_change_feed_changes_seen",
    "Changes the change feed has read since the process started.",
    registry=REGISTRY,
)
DEPENDENCY_UP = Gauge(
    "convos_dependency_up",
    "1 when the dependency answered the last /ready check, else 0.",
    ["dependency"],
    registry=REGISTRY,
)


class BoundedNames:
    """Admits at most ``limit`` distinct label values; later ones become ``other``."""

    def __init__(self, limit: int, pattern: re.Pattern[str] | None = None) -> None:
        self.limit = limit
        self._pattern = pattern
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, name: str) -> str:
        if name in self._seen:
            return name
        if self._pattern is not None and not self._pattern.fullmatch(name):
            return OTHER
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(name)
        return name


_operation_names = BoundedNames(100, _OPERATION_NAME)
_mongo_commands = BoundedNames(64, _OPERATION_NAME)
_error_codes = BoundedNames(64, _CODE)


def configure(*, max_operations: int) -> None:
    """Apply the settings (METRICS_MAX_OPERATIONS) to the label bounds."""
    _operation_names.limit = max_operations


# -- HTTP -----------------------------------------------------------------------
_http_children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}


def observe_http(route: str | None, method: str, status: int, seconds: float) -> None:
    """One HTTP request served; ``route`` is the route template (None: unmatched)."""
    # Clients choose methods: anything unusual is "other", so the cache stays bounded.
    key = (route or UNMATCHED, method if method in _METHODS else OTHER, status)
    children = _http_children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(key[0], key[1], str(status)),
            HTTP_DURATION.labels(key[0], key[1]),
            ERRORS.labels("http", str(status)) if status >= 400 else None,
        )
        _http_children[key] = children
    children[0].inc()
    children[1].observe(seconds)
    if children[2] is not None:
        children[2].inc()


def http_started() -> None:
    HTTP_IN_PROGRESS.inc()


def http_ended() -> None:
    HTTP_IN_PROGRESS.dec()


# -- GraphQL --------------------------------------------------------------------
def operation_label(name: str | None) -> str:
    """The label for an operation name: bounded, unnamed ones as ``anonymous``."""
    return _operation_names(name) if name else ANONYMOUS


_operation_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}


def observe_operation(name: str, kind: str, seconds: float | None) -> None:
    """One GraphQL operation ran (``seconds`` None for a subscription's lifetime)."""
    children = _operation_children.get((name, kind))
    if children is None:
        children = (GRAPHQL_OPERATIONS.labels(name, kind), GRAPHQL_DURATION.labels(name, kind))
        _operation_children[(name, kind)] = children
    children[0].inc()
    if seconds is not None:
        children[1].observe(seconds)


def graphql_error(code: str | None) -> None:
    ERRORS.labels("graphql", _error_codes(code) if code else "UNKNOWN").inc()


def subscription_started() -> None:
    SUBSCRIPTIONS.inc()


def subscription_ended() -> None:
    SUBSCRIPTIONS.dec()


def websocket_opened() -> None:
    WEBSOCKETS.inc()


def websocket_closed() -> None:
    WEBSOCKETS.dec()


# -- operations -----------------------------------------------------------------
def rate_limited(action: str) -> None:
    """A request was refused by ``action``'s budget."""
    RATE_LIMITED.labels(action).inc()


class ImportMetrics:
    """Imports in progress and the conversations they wrote (an ``ImportObserver``)."""

    def started(self) -> None:
        IMPORTS_IN_PROGRESS.inc()

    def ended(self, conversations: int) -> None:
        IMPORTS_IN_PROGRESS.dec()
        IMPORTED_CONVERSATIONS.inc(conversations)


IMPORT_METRICS = ImportMetrics()


class _Feed(Protocol):
    @property
    def lag_s(self) -> float: ...

    changes_seen: int


def watch_change_feed(feed: _Feed) -> None:
    """Read the process's change feed's lag and count at each scrape."""
    CHANGE_FEED_LAG.set_function(lambda: feed.lag_s)
    CHANGE_FEED_CHANGES.set_function(lambda: float(feed.changes_seen))


def dependency_up(name: str, up: bool) -> None:
    DEPENDENCY_UP.labels(name).set(1 if up else 0)


# -- MongoDB --------------------------------------------------------------------
class CommandMetrics(monitoring.CommandListener):
    """Latency of every MongoDB command, by command name (from the driver's own timing)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def __init__(self) -> None:
        self._children: dict[str, Histogram] = {}

    def _histogram(self, command: str) -> Histogram:
        child = self._children.get(command)
        if child is None:
            child = self._children[command] = MONGO_DURATION.labels(_mongo_commands(command))
        return child

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._histogram(event.command_name).observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._histogram(event.command_name).observe(event.duration_micros / 1e6)
        MONGO_FAILURES.labels(_mongo_commands(event.command_name)).inc()


_COMMAND_METRICS = CommandMetrics()


def mongo_listeners() -> list[monitoring.CommandListener]:
    """The listeners every MongoDB client is built with (storage/database.py)."""
    return [_COMMAND_METRICS]


# -- exposition -----------------------------------------------------------------
def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)


def serve_on_port(host: str, port: int) -> Callable[[], None]:
    """Serve /metrics on its own port (a thread); returns the function that stops it."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
