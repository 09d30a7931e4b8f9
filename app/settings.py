"""Every knob of the gateway, read once from the environment.

Each setting is written once, as one field of :class:`Settings`: its
environment variable, its default, its parser and a one-line reason. Security
knobs (body sizes, rate limits, GraphQL limits, import size) live here and
nowhere else, so an operator reads one file to know what the gateway allows.

Adding a setting is one block in :class:`Settings`, under its section::

    max_things: int = setting(
        "MAX_THINGS", 100, "things per request; more answer 400 (bounded work per request)"
    )

plus its row in README.md's configuration table (``| `MAX_THINGS` | `100` |
... |``); ``tests/app/test_settings.py`` compares the table with these fields
both ways and prints the row to paste when one is missing. Nothing else: no
second default, no reader to extend. The parser follows the default's type
(bool, int, float, str, Path, tuple of strings); pass ``parse=`` when the
default is ``None`` or the value needs more (``parse_limiter``, ``parse_lower``),
``aliases=`` for other accepted names, ``production=`` for the default when
``CONVOS_ENV=production``, and ``shown=`` when the README should describe the
default in words.

The module is long on purpose: one declarative block per setting, so an
operator reads every knob, its default and its reason on one page.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from app.setting_fields import (
    SettingsError,
    env_setting,
    parse_float,
    parse_int,
    parse_limiter,
    parse_lower,
    parse_path,
    parse_str,
    setting,
)

__all__ = ["DEFAULT_PORT", "Settings", "SettingsError"]

DEFAULT_PORT = 3080  # LibreChat's port, so clients need no new URL.
MODES: Final = ("development", "production", "test")


def parse_optional_port(name: str, raw: str, default: object) -> int | None:
    # 0 (or empty) means "no separate port", as the variable being unset.
    return parse_int(name, raw, default) or None


def _mode(name: str, raw: str, default: object) -> str:
    mode = raw.lower()
    if mode not in MODES:
        raise SettingsError(f"{name} must be development, production or test, got {mode!r}")
    return mode


@dataclass(frozen=True)
class Settings:
    """The gateway's configuration; build it with :meth:`from_env`."""

    # --- process ---------------------------------------------------------
    env: str = setting(
        "CONVOS_ENV", "development", "production hardens defaults and needs JWT_SECRET", parse=_mode
    )
    host: str = setting("HOST", "127.0.0.1", "listen address; loopback unless an operator opens it")
    port: int = setting(
        "PORT", DEFAULT_PORT, "listen port; LibreChat's, so clients need no new URL"
    )
    data_dir: Path = setting(
        "CONVOS_DATA_DIR", Path("data"), "embedded database, its log and the development secret"
    )
    log_level: str = setting(
        "LOG_LEVEL", "info", "debug also logs every request", parse=parse_lower
    )
    demo_data: bool = setting(
        "DEMO_DATA",
        True,
        "load the built-in sample for the development user on a first run of the embedded "
        "database (never in production, never on MONGO_URI)",
        production=False,
    )

    # --- HTTP server (uvicorn; enforced in app/server.py) ------------------
    server_max_header_bytes: int = setting(
        "SERVER_MAX_HEADER_BYTES",
        32 * 1024,
        "request line + headers; more is 431 (twice Node's 16 KB, LibreChat's own cap)",
    )
    server_header_timeout_s: float = setting(
        "SERVER_HEADER_TIMEOUT_S", 20.0, "a request's headers must arrive within this; else 408"
    )
    server_body_timeout_s: float = setting(
        "SERVER_BODY_TIMEOUT_S",
        30.0,
        "a request body must arrive within this plus SERVER_BODY_MIN_BYTES_PER_S; else 408",
    )
    server_body_min_bytes_per_s: int = setting(
        "SERVER_BODY_MIN_BYTES_PER_S",
        500,
        "each such many body bytes earn one more second, so slow uploads go on, drips do not",
    )
    server_keepalive_timeout_s: int = setting(
        "SERVER_KEEPALIVE_TIMEOUT_S", 30, "an idle keep-alive connection is closed after this"
    )

    # --- database --------------------------------------------------------
    mongo_uri: str | None = setting(
        "MONGO_URI",
        None,
        "LibreChat's MongoDB; unset = start the embedded database",
        parse=parse_str,
        aliases=("MONGODB_URI",),
    )
    mongo_db_name: str = setting(
        "MONGO_DB_NAME", "LibreChat", "database when the URI names none; LibreChat's name"
    )
    mongo_timeout_ms: int = setting(
        "MONGO_TIMEOUT_MS", 5000, "answer 503 after this, not hang for PyMongo's 30 s"
    )
    mongo_write_journal: bool = setting(
        "MONGO_WRITE_JOURNAL",
        True,
        "acknowledge writes once journaled (j: true), so a crash right after cannot lose them",
    )

    # --- auth ------------------------------------------------------------
    jwt_secret: str = setting(
        "JWT_SECRET",
        "",
        "HS256 secret of LibreChat's tokens; in development generated once into data_dir",
        shown="generated",
    )
    jwt_leeway_s: int = setting(
        "JWT_LEEWAY_S", 30, "clock skew tolerated on exp/nbf, small on purpose"
    )

    # --- request bodies --------------------------------------------------
    max_json_body_bytes: int = setting(
        "MAX_JSON_BODY_BYTES", 3 * 1024 * 1024, "LibreChat's express.json limit; larger is 413"
    )
    import_max_file_bytes: int = setting(
        "CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES",
        262_144_000,
        "largest import upload; LibreChat's name and default",
    )
    import_temp_dir: Path | None = setting(
        "CONVERSATION_IMPORT_TEMP_DIR",
        None,
        "where uploads and JSON inflated from zips are spooled while imported; unset = system temp",
        parse=parse_path,
    )
    import_max_concurrent: int = setting(
        "IMPORT_MAX_CONCURRENT",
        2,
        "imports running at once; each holds a worker thread, CPU and disk while it runs",
        parse=parse_limiter,
    )
    import_max_concurrent_per_user: int = setting(
        "IMPORT_MAX_CONCURRENT_PER_USER",
        1,
        "one user's share of those; their other imports queue behind their own",
        parse=parse_limiter,
    )
    import_abandon_after_min: int = setting(
        "IMPORT_ABANDON_AFTER",
        60,
        "minutes after which an unfinished import counts as crashed and is swept",
        parse=parse_limiter,
    )

    # --- rate limits (LibreChat's names and defaults) --------------------
    rate_limit_storage_uri: str = setting(
        "RATE_LIMIT_STORAGE_URI",
        "memory://",
        "memory:// for one process, redis://... for replicas (resolvers/adapters/rate_limiter.py)",
    )
    rate_limit_key_prefix: str = setting(
        "RATE_LIMIT_KEY_PREFIX", "convos-gateway", "keeps deployments sharing one Redis apart"
    )
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES",
        (),
        "comma-separated IPs or CIDRs whose X-Forwarded-For is believed (right-most untrusted)",
    )
    import_ip_max: int = setting(
        "IMPORT_IP_MAX", 100, "imports per IP per window", parse=parse_limiter
    )
    import_ip_window_min: int = setting(
        "IMPORT_IP_WINDOW", 15, "minutes of the per-IP import window", parse=parse_limiter
    )
    import_user_max: int = setting(
        "IMPORT_USER_MAX", 50, "imports per user per window", parse=parse_limiter
    )
    import_user_window_min: int = setting(
        "IMPORT_USER_WINDOW", 15, "minutes of the per-user import window", parse=parse_limiter
    )
    fork_ip_max: int = setting(
        "FORK_IP_MAX", 30, "forks + duplicates per IP per window", parse=parse_limiter
    )
    fork_ip_window_min: int = setting(
        "FORK_IP_WINDOW", 1, "minutes of the per-IP fork window", parse=parse_limiter
    )
    fork_user_max: int = setting(
        "FORK_USER_MAX", 7, "forks + duplicates per user per window", parse=parse_limiter
    )
    fork_user_window_min: int = setting(
        "FORK_USER_WINDOW", 1, "minutes of the per-user fork window", parse=parse_limiter
    )
    export_ip_max: int = setting(
        "EXPORT_IP_MAX",
        30,
        "exports (and signed-link downloads) per IP per window",
        parse=parse_limiter,
    )
    export_ip_window_min: int = setting(
        "EXPORT_IP_WINDOW", 15, "minutes of the per-IP export window", parse=parse_limiter
    )
    export_user_max: int = setting(
        "EXPORT_USER_MAX",
        10,
        "exports per user per window: each reads a whole selection",
        parse=parse_limiter,
    )
    export_user_window_min: int = setting(
        "EXPORT_USER_WINDOW", 15, "minutes of the per-user export window", parse=parse_limiter
    )
    export_link_ttl_s: int = setting(
        "EXPORT_LINK_TTL_S", 300, "seconds a signed export download link stays valid"
    )

    # --- title generation ------------------------------------------------
    redis_uri: str | None = setting(
        "REDIS_URI",
        None,
        "shared title cache and GraphQL events for replicas; unset = in memory",
        parse=parse_str,
    )
    tag_lock_lease_s: float = setting(
        "TAG_LOCK_LEASE_S",
        10.0,
        "with REDIS_URI: a dead replica blocks its user's tag changes at most this long",
    )
    tag_lock_wait_s: float = setting(
        "TAG_LOCK_WAIT_S",
        30.0,
        "a tag change waits this long for its user's lock (in Redis with REDIS_URI), then 503",
    )
    title_api_base_url: str | None = setting(
        "TITLE_API_BASE_URL",
        None,
        "OpenAI-compatible API for titles; unset = the offline generator",
        parse=parse_str,
    )
    title_api_key: str | None = setting(
        "TITLE_API_KEY", None, "bearer key for the title API", parse=parse_str
    )
    title_model: str = setting("TITLE_MODEL", "gpt-4o-mini", "model asked for titles")
    title_timeout_s: float = setting("TITLE_TIMEOUT_S", 10.0, "one title API call, then give up")
    title_max_retries: int = setting("TITLE_MAX_RETRIES", 2, "bounded retries on 429/5xx")
    title_fallback_offline: bool = setting(
        "TITLE_FALLBACK_OFFLINE", True, "use the offline generator when the API fails"
    )
    title_generation: bool = setting(
        "TITLE_GENERATION",
        True,
        "false = never generate titles (gen_title then answers 404), titles left untouched",
    )
    title_cache_ttl_s: int = setting(
        "TITLE_CACHE_TTL_S", 120, "LibreChat keeps generated titles 2 minutes"
    )

    # --- GraphQL ---------------------------------------------------------
    graphiql: bool = setting(
        "GRAPHIQL", True, "serve GraphiQL at GET /graphql; off in production", production=False
    )
    introspection: bool = setting(
        "GRAPHQL_INTROSPECTION", True, "allow __schema/__type; off in production", production=False
    )
    max_query_depth: int = setting(
        "GRAPHQL_MAX_DEPTH", 10, "deepest selection: conversation>messages>children..."
    )
    max_aliases: int = setting(
        "GRAPHQL_MAX_ALIASES", 30, "aliases per document, fragments included"
    )
    max_tokens: int = setting(
        "GRAPHQL_MAX_TOKENS", 2000, "parser tokens per document; parser work is linear in them"
    )
    max_query_cost: int = setting(
        "GRAPHQL_MAX_COST",
        250_000,
        "estimated cost; list sizes multiply their children (messages count as "
        "GRAPHQL_MAX_MESSAGES_PER_CONVERSATION): a page of 10 with messages fits, 100 does not",
    )
    max_messages_per_conversation: int = setting(
        "GRAPHQL_MAX_MESSAGES_PER_CONVERSATION",
        2000,
        "most messages one conversation's `messages` reads (more: TOO_MANY_MESSAGES); "
        "the cost limit counts `messages` at this size",
    )
    parser_cache_size: int = setting(
        "GRAPHQL_PARSER_CACHE_SIZE", 512, "bounded: attacker-chosen documents must not grow memory"
    )
    validation_cache_size: int = setting(
        "GRAPHQL_VALIDATION_CACHE_SIZE", 512, "bounded for the same reason as the parser cache"
    )
    list_size_estimate: int = setting(
        "GRAPHQL_LIST_SIZE",
        10,
        "size the cost limit assumes for a list without first/limit (messages, tags)",
    )
    max_list_size: int = setting(
        "GRAPHQL_MAX_LIST_SIZE", 100, "cap on any first/limit (the resolvers clamp at 100)"
    )
    field_suggestions: bool = setting(
        "GRAPHQL_FIELD_SUGGESTIONS",
        True,
        '"Did you mean ...?" hints leak the schema; off in production',
        production=False,
    )
    max_batch: int = setting(
        "GRAPHQL_MAX_BATCH", 0, "operations per HTTP request; 0 = off (batches hide cost, OWASP)"
    )
    max_body_bytes: int = setting(
        "GRAPHQL_MAX_BODY_BYTES",
        1024 * 1024,
        "larger bodies answer 413 before parsing; a 2,000-token document is ~20 KB",
    )
    execution_timeout_s: float | None = setting(
        "GRAPHQL_TIMEOUT_S",
        None,
        "one HTTP operation's execution; then 503 TIMEOUT; unset = REQUEST_TIMEOUT_S",
        parse=parse_float,
        shown="REQUEST_TIMEOUT_S",
    )
    graphql_fast_path: bool = setting(
        "GRAPHQL_FAST_PATH",
        True,
        "answer plain fields without graphql-core's per-field work; false = Strawberry's path",
    )
    get_cache_max_age_s: int = setting(
        "GRAPHQL_GET_CACHE_MAX_AGE_S",
        0,
        "> 0 lets a proxy cache successful GET queries per token (Vary: Authorization)",
    )

    # --- persisted queries (Apollo APQ wire format) -----------------------
    apq: bool = setting(
        "GRAPHQL_APQ", True, "register/look up documents by sha256 in extensions.persistedQuery"
    )
    apq_cache_size: int = setting("GRAPHQL_APQ_CACHE_SIZE", 1000, "in-memory LRU entries")
    apq_max_query_bytes: int = setting(
        "GRAPHQL_APQ_MAX_QUERY_BYTES",
        32 * 1024,
        "longer documents run but are not stored: the store stays under size x this",
    )
    apq_ttl_s: int = setting("GRAPHQL_APQ_TTL_S", 7 * 24 * 3600, "Redis entries expire")
    allow_list_path: Path | None = setting(
        "GRAPHQL_ALLOW_LIST",
        None,
        "a persisted-query manifest (JSON): only its operations run, APQ registration refused",
        parse=parse_path,
    )

    # --- subscriptions (graphql-transport-ws) -----------------------------
    events_channel: str = setting(
        "REDIS_EVENTS_CHANNEL", "convos-gateway:events", "the pub/sub channel replicas share"
    )
    max_subscriptions_per_connection: int = setting(
        "GRAPHQL_MAX_SUBSCRIPTIONS", 10, "operations open at once on one WebSocket"
    )
    ws_max_connections_per_user: int = setting(
        "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER",
        5,
        "WebSockets one user may hold open per process (more: close 4429); 0 = no cap",
    )
    ws_init_timeout_s: float = setting(
        "GRAPHQL_WS_INIT_TIMEOUT_S", 10.0, "deadline for a WebSocket's connection_init"
    )
    event_queue_size: int = setting(
        "GRAPHQL_EVENT_QUEUE_SIZE",
        100,
        "events buffered per slow subscriber; past it EVENTS_OVERFLOW ends the subscription",
    )

    # --- operations: readiness, metrics, logs, shutdown --------------------
    ready_timeout_ms: int = setting(
        "READY_TIMEOUT_MS", 1000, "how long /ready waits for each dependency before calling it down"
    )
    metrics_enabled: bool = setting(
        "METRICS_ENABLED", True, "serve /metrics in Prometheus text format"
    )
    metrics_port: int | None = setting(
        "METRICS_PORT",
        None,
        "serve /metrics only on this port, not the public one; unset = the public port",
        parse=parse_optional_port,
    )
    metrics_host: str | None = setting(
        "METRICS_HOST", None, "address of METRICS_PORT; unset = HOST", parse=parse_str
    )
    metrics_max_operations: int = setting(
        "METRICS_MAX_OPERATIONS",
        100,
        "distinct GraphQL operation names labelled; later ones count as other (bounded series)",
    )
    log_format: str = setting(
        "LOG_FORMAT", "text", "text (people) or json (one object per line)", parse=parse_lower
    )
    shutdown_grace_s: int = setting(
        "SHUTDOWN_GRACE_S",
        8,
        "on SIGTERM, in-flight requests get this long; with the database's stop, exit within 10 s",
    )

    # --- deadlines, change feed, search index (issue 10) ------------------
    request_timeout_s: float = setting(
        "REQUEST_TIMEOUT_S",
        10.0,
        "one request's deadline on both edges, maxTimeMS on its reads; then 503 / TIMEOUT",
    )
    change_feed: str = setting(
        "CHANGE_FEED",
        "auto",
        "how every writer's changes reach search and live events: changestream, poll, auto, off",
        parse=parse_lower,
    )
    change_feed_poll_s: float = setting(
        "CHANGE_FEED_POLL_S",
        2.0,
        "catch-up interval in poll mode, and the first retry delay after a feed failure",
    )
    search_mode: str = setting(
        "SEARCH_MODE",
        "index",
        "index: a local SQLite FTS5 index proposes matches MongoDB confirms; scan: a regex",
        parse=parse_lower,
    )
    search_index_path: Path | None = setting(
        "SEARCH_INDEX_PATH",
        None,
        "the search index file (:memory: = none, rebuilt each start); see search_index_file",
        parse=parse_path,
        shown="CONVOS_DATA_DIR/search-index.sqlite3",
    )

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def graphql_timeout_s(self) -> float:
        """GRAPHQL_TIMEOUT_S, or the request deadline when it is unset."""
        if self.execution_timeout_s is None:
            return self.request_timeout_s
        return self.execution_timeout_s

    @property
    def search_index_file(self) -> Path | None:
        """Where the search index lives; None = in memory (``:memory:``)."""
        if self.search_index_path is None:
            return self.data_dir / "search-index.sqlite3"
        if str(self.search_index_path) == ":memory:":
            return None
        return self.search_index_path

    @property
    def embedded_db(self) -> bool:
        return self.mongo_uri is None

    @property
    def import_max_uncompressed_bytes(self) -> int:
        """The zip bomb cap on an import: 4x the upload limit (JSON compresses
        well, so a legitimate zip inflates to a few times its size)."""
        return 4 * self.import_max_file_bytes

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``env`` (default: ``os.environ``).

        Raises:
            SettingsError: a value is malformed, or production lacks a secret.
        """
        e = os.environ if env is None else env
        declared = {f.name: (f, env_setting(f)) for f in fields(cls)}
        mode_field, mode_spec = declared["env"]
        production = mode_spec.read(e, mode_field.default) == "production"
        values: dict[str, Any] = {}
        for name, (f, spec) in declared.items():
            default = f.default
            if production and spec.production is not None:
                default = spec.production
            values[name] = spec.read(e, default)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse configurations that must not run."""
        if self.production and not self.jwt_secret:
            raise SettingsError("CONVOS_ENV=production needs JWT_SECRET; refusing to start")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise SettingsError(f"{f.name} must not be negative")
        if min(self.server_header_timeout_s, self.server_body_timeout_s) <= 0:
            raise SettingsError(
                "SERVER_HEADER_TIMEOUT_S and SERVER_BODY_TIMEOUT_S must be positive"
            )
        if self.graphql_timeout_s <= 0 or self.ws_init_timeout_s <= 0:
            raise SettingsError("GraphQL timeouts must be positive")
        if self.request_timeout_s <= 0 or self.change_feed_poll_s <= 0:
            raise SettingsError("REQUEST_TIMEOUT_S and CHANGE_FEED_POLL_S must be positive")
        if self.change_feed not in {"auto", "changestream", "poll", "off"}:
            raise SettingsError("CHANGE_FEED must be auto, changestream, poll or off")
        if self.search_mode not in {"index", "scan"}:
            raise SettingsError("SEARCH_MODE must be index or scan")
        if self.max_list_size < 1 or self.event_queue_size < 1:
            raise SettingsError("GRAPHQL_MAX_LIST_SIZE and GRAPHQL_EVENT_QUEUE_SIZE must be >= 1")
        if self.max_messages_per_conversation < 1:
            raise SettingsError("GRAPHQL_MAX_MESSAGES_PER_CONVERSATION must be >= 1")
        if self.log_format not in {"text", "json"}:
            raise SettingsError(f"LOG_FORMAT must be text or json, got {self.log_format!r}")
        if self.ready_timeout_ms < 1:
            raise SettingsError("READY_TIMEOUT_MS must be >= 1")

    def with_secret(self) -> Settings:
        """Return settings with a JWT secret, creating the development one if needed.

        In development the secret is generated once and kept in
        ``data_dir/jwt_secret`` so tokens survive restarts.
        """
        if self.jwt_secret:
            return self
        if self.production:
            raise SettingsError("CONVOS_ENV=production needs JWT_SECRET; refusing to start")
        path = self.data_dir / "jwt_secret"
        if path.exists():
            secret = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            secret = secrets.token_urlsafe(48)
            path.write_text(secret + "\n")
            path.chmod(0o600)
        return replace(self, jwt_secret=secret)
