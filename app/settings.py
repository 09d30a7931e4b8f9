"""Every knob of the gateway, read once from the environment.

Each field has its default and a one-line reason next to it. Security knobs
(body sizes, rate limits, GraphQL limits, import size) live here and nowhere
else, so an operator reads one file to know what the gateway allows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_PORT = 3080  # LibreChat's port, so clients need no new URL.


class SettingsError(ValueError):
    """A setting is missing or malformed; the process must not start."""


def _int(env: Mapping[str, str], name: str, default: int, *, zero_is_default: bool = False) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    # LibreChat reads its limiter values as `parseInt(env) || default`.
    if zero_is_default and value == 0:
        return default
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip()


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = _str(env, name)
    return Path(raw) if raw else None


def _index_path(env: Mapping[str, str]) -> Path | None:
    # SEARCH_INDEX_PATH=:memory: keeps the index in memory (rebuilt each start).
    raw = _str(env, "SEARCH_INDEX_PATH")
    if raw == ":memory:":
        return None
    return (
        Path(raw)
        if raw
        else Path(_str(env, "CONVOS_DATA_DIR", "data") or "data") / ("search-index.sqlite3")
    )


@dataclass(frozen=True)
class Settings:
    """The gateway's configuration; build it with :meth:`from_env`."""

    # --- process ---------------------------------------------------------
    env: str = "development"  # CONVOS_ENV; "production" hardens defaults.
    host: str = "127.0.0.1"  # HOST; loopback unless an operator opens it.
    port: int = DEFAULT_PORT  # PORT
    data_dir: Path = Path("data")  # CONVOS_DATA_DIR: embedded db + dev secret.
    log_level: str = "info"  # LOG_LEVEL

    # --- database --------------------------------------------------------
    # MONGO_URI (LibreChat's name; MONGODB_URI accepted). None = embedded.
    mongo_uri: str | None = None
    # Database used when the URI names none; LibreChat's default name.
    mongo_db_name: str = "LibreChat"
    # MONGO_TIMEOUT_MS: how long a request waits for an unreachable server
    # before answering 503, so requests do not hang for PyMongo's 30 s.
    mongo_timeout_ms: int = 5000

    # --- auth ------------------------------------------------------------
    jwt_secret: str = ""  # JWT_SECRET; generated and kept in data_dir in development.
    jwt_leeway_s: int = 30  # clock skew tolerated on exp/nbf, small on purpose.

    # --- request bodies --------------------------------------------------
    # LibreChat's express.json limit: 3 MB. Larger JSON bodies answer 413.
    max_json_body_bytes: int = 3 * 1024 * 1024
    # CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES, LibreChat's name and default.
    import_max_file_bytes: int = 262_144_000
    # CONVERSATION_IMPORT_TEMP_DIR: where uploads are spooled while they are
    # validated and imported (deleted after); None = the system's temp dir.
    import_temp_dir: Path | None = None

    # --- rate limits (LibreChat's names and defaults) --------------------
    # RATE_LIMIT_STORAGE_URI: memory:// for one process, redis://... for replicas
    # (moving windows; see resolvers/rate_limits.py for how requests are counted).
    rate_limit_storage_uri: str = "memory://"
    # RATE_LIMIT_KEY_PREFIX: keeps deployments sharing one Redis apart.
    rate_limit_key_prefix: str = "convos-gateway"
    # TRUSTED_PROXIES: comma-separated IPs or CIDR networks whose
    # X-Forwarded-For is believed (right-most untrusted address = client).
    trusted_proxies: tuple[str, ...] = ()
    import_ip_max: int = 100
    import_ip_window_min: int = 15
    import_user_max: int = 50
    import_user_window_min: int = 15
    fork_ip_max: int = 30
    fork_ip_window_min: int = 1
    fork_user_max: int = 7
    fork_user_window_min: int = 1

    # --- title generation ------------------------------------------------
    # REDIS_URI: shared title cache and events for replicas; None = in memory.
    redis_uri: str | None = None
    title_api_base_url: str | None = None  # TITLE_API_BASE_URL (OpenAI-compatible)
    title_api_key: str | None = None  # TITLE_API_KEY
    title_model: str = "gpt-4o-mini"  # TITLE_MODEL
    title_timeout_s: float = 10.0  # TITLE_TIMEOUT_S: one API call, then give up.
    title_max_retries: int = 2  # TITLE_MAX_RETRIES: bounded retries on 429/5xx.
    # TITLE_FALLBACK_OFFLINE: use the offline generator when the API fails.
    title_fallback_offline: bool = True
    # TITLE_GENERATION: off = never generate titles (gen_title then answers 404
    # unless another replica cached one); for operators who want titles untouched.
    title_generation: bool = True
    title_cache_ttl_s: int = 120  # TITLE_CACHE_TTL_S: LibreChat keeps titles 2 minutes.

    # --- GraphQL ---------------------------------------------------------
    graphiql: bool = True  # GRAPHIQL; forced off in production unless set.
    introspection: bool = True  # GRAPHQL_INTROSPECTION; off in production unless set.
    max_query_depth: int = 10  # GRAPHQL_MAX_DEPTH: conversation>messages>children...
    max_aliases: int = 30  # GRAPHQL_MAX_ALIASES
    max_tokens: int = 2000  # GRAPHQL_MAX_TOKENS: parser work is linear in tokens.
    max_query_cost: int = 50_000  # GRAPHQL_MAX_COST: list sizes multiply their children.
    parser_cache_size: int = 512  # bounded: attacker-chosen documents must not grow memory.
    validation_cache_size: int = 512
    # GRAPHQL_LIST_SIZE: the size the cost limit assumes for a list field
    # without `first`/`limit` (a conversation's messages, its tags), and the
    # cap it puts on any `first`/`limit` (the resolvers clamp at 100).
    list_size_estimate: int = 10
    max_list_size: int = 100  # GRAPHQL_MAX_LIST_SIZE
    # GRAPHQL_FIELD_SUGGESTIONS: "Did you mean ...?" hints leak the schema;
    # off in production unless set.
    field_suggestions: bool = True
    # GRAPHQL_MAX_BATCH: operations in one HTTP request; 0 = batching off
    # (OWASP: batches amplify brute force and hide cost from rate limits).
    max_batch: int = 0
    # GRAPHQL_MAX_BODY_BYTES: a 2,000-token document is ~20 KB; our variables
    # are small. Larger bodies answer 413 before any parsing.
    max_body_bytes: int = 1024 * 1024
    # GRAPHQL_TIMEOUT_S: one HTTP operation's execution; then 503 TIMEOUT.
    execution_timeout_s: float = 10.0
    # GRAPHQL_GET_CACHE_MAX_AGE_S: > 0 lets a proxy cache successful GET
    # queries (persisted ones) per token (`public, max-age`, `Vary: Authorization`).
    get_cache_max_age_s: int = 0
    # --- persisted queries (Apollo APQ wire format) -----------------------
    apq: bool = True  # GRAPHQL_APQ: register/lookup by sha256 in extensions.persistedQuery.
    apq_cache_size: int = 1000  # GRAPHQL_APQ_CACHE_SIZE: in-memory LRU entries.
    # GRAPHQL_APQ_MAX_QUERY_BYTES: longer documents run but are not stored, so
    # the memory store stays under size x this.
    apq_max_query_bytes: int = 32 * 1024
    apq_ttl_s: int = 7 * 24 * 3600  # GRAPHQL_APQ_TTL_S: Redis entries expire.
    # GRAPHQL_ALLOW_LIST: a persisted-query manifest (JSON); when set, only
    # its operations run and APQ registration is refused.
    allow_list_path: Path | None = None
    # --- subscriptions (graphql-transport-ws) -----------------------------
    # REDIS_EVENTS_CHANNEL: the pub/sub channel replicas share (with REDIS_URI).
    events_channel: str = "convos-gateway:events"
    # GRAPHQL_MAX_SUBSCRIPTIONS: operations open at once on one WebSocket.
    max_subscriptions_per_connection: int = 10
    # GRAPHQL_WS_MAX_CONNECTIONS_PER_USER: WebSockets one user holds open in
    # this process (each costs a task and event fan-out); 0 = no cap.
    ws_max_connections_per_user: int = 5
    ws_init_timeout_s: float = 10.0  # GRAPHQL_WS_INIT_TIMEOUT_S: connection_init deadline.
    # GRAPHQL_EVENT_QUEUE_SIZE: events buffered for one slow subscriber; past
    # it the subscription ends with EVENTS_OVERFLOW (refetch, resubscribe).
    event_queue_size: int = 100

    # --- deadlines, change feed, search index (issue 10) ----------------
    # REQUEST_TIMEOUT_S: one HTTP request on either edge, sent to MongoDB as
    # maxTimeMS; past it REST answers 503, GraphQL a TIMEOUT error.
    request_timeout_s: float = 10.0
    # CHANGE_FEED: how the gateway learns of every writer's changes (LibreChat's
    # too): auto = change streams where offered, else catch-up polling; off = none.
    change_feed: str = "auto"
    # CHANGE_FEED_POLL_S: catch-up interval where change streams are not offered
    # (a standalone mongod), and the first retry delay after a failure.
    change_feed_poll_s: float = 2.0
    # SEARCH_MODE: index = a local SQLite FTS5 trigram index proposes matches that
    # MongoDB confirms; scan = today's regex over every message.
    search_mode: str = "index"
    # SEARCH_INDEX_PATH: the index file beside this process; from the
    # environment CONVOS_DATA_DIR/search-index.sqlite3; None = in memory.
    search_index_path: Path | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"

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
        mode = (_str(e, "CONVOS_ENV", "development") or "development").lower()
        if mode not in {"development", "production", "test"}:
            raise SettingsError(f"CONVOS_ENV must be development, production or test, got {mode!r}")
        production = mode == "production"
        proxies = _str(e, "TRUSTED_PROXIES", "") or ""
        settings = cls(
            env=mode,
            host=_str(e, "HOST", "127.0.0.1") or "127.0.0.1",
            port=_int(e, "PORT", DEFAULT_PORT),
            data_dir=Path(_str(e, "CONVOS_DATA_DIR", "data") or "data"),
            log_level=(_str(e, "LOG_LEVEL", "info") or "info").lower(),
            mongo_uri=_str(e, "MONGO_URI") or _str(e, "MONGODB_URI"),
            mongo_db_name=_str(e, "MONGO_DB_NAME", "LibreChat") or "LibreChat",
            mongo_timeout_ms=_int(e, "MONGO_TIMEOUT_MS", 5000),
            jwt_secret=_str(e, "JWT_SECRET", "") or "",
            max_json_body_bytes=_int(e, "MAX_JSON_BODY_BYTES", 3 * 1024 * 1024),
            import_max_file_bytes=_int(e, "CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES", 262_144_000),
            import_temp_dir=_path(e, "CONVERSATION_IMPORT_TEMP_DIR"),
            rate_limit_storage_uri=_str(e, "RATE_LIMIT_STORAGE_URI", "memory://") or "memory://",
            rate_limit_key_prefix=_str(e, "RATE_LIMIT_KEY_PREFIX", "convos-gateway")
            or "convos-gateway",
            trusted_proxies=tuple(p.strip() for p in proxies.split(",") if p.strip()),
            import_ip_max=_int(e, "IMPORT_IP_MAX", 100, zero_is_default=True),
            import_ip_window_min=_int(e, "IMPORT_IP_WINDOW", 15, zero_is_default=True),
            import_user_max=_int(e, "IMPORT_USER_MAX", 50, zero_is_default=True),
            import_user_window_min=_int(e, "IMPORT_USER_WINDOW", 15, zero_is_default=True),
            fork_ip_max=_int(e, "FORK_IP_MAX", 30, zero_is_default=True),
            fork_ip_window_min=_int(e, "FORK_IP_WINDOW", 1, zero_is_default=True),
            fork_user_max=_int(e, "FORK_USER_MAX", 7, zero_is_default=True),
            fork_user_window_min=_int(e, "FORK_USER_WINDOW", 1, zero_is_default=True),
            redis_uri=_str(e, "REDIS_URI"),
            title_api_base_url=_str(e, "TITLE_API_BASE_URL"),
            title_api_key=_str(e, "TITLE_API_KEY"),
            title_model=_str(e, "TITLE_MODEL", "gpt-4o-mini") or "gpt-4o-mini",
            title_timeout_s=_float(e, "TITLE_TIMEOUT_S", 10.0),
            title_max_retries=_int(e, "TITLE_MAX_RETRIES", 2),
            title_fallback_offline=_bool(e, "TITLE_FALLBACK_OFFLINE", True),
            title_cache_ttl_s=_int(e, "TITLE_CACHE_TTL_S", 120),
            title_generation=_bool(e, "TITLE_GENERATION", True),
            graphiql=_bool(e, "GRAPHIQL", not production),
            introspection=_bool(e, "GRAPHQL_INTROSPECTION", not production),
            max_query_depth=_int(e, "GRAPHQL_MAX_DEPTH", 10),
            max_aliases=_int(e, "GRAPHQL_MAX_ALIASES", 30),
            max_tokens=_int(e, "GRAPHQL_MAX_TOKENS", 2000),
            max_query_cost=_int(e, "GRAPHQL_MAX_COST", 50_000),
            list_size_estimate=_int(e, "GRAPHQL_LIST_SIZE", 10),
            max_list_size=_int(e, "GRAPHQL_MAX_LIST_SIZE", 100),
            field_suggestions=_bool(e, "GRAPHQL_FIELD_SUGGESTIONS", not production),
            max_batch=_int(e, "GRAPHQL_MAX_BATCH", 0),
            max_body_bytes=_int(e, "GRAPHQL_MAX_BODY_BYTES", 1024 * 1024),
            execution_timeout_s=_float(
                e, "GRAPHQL_TIMEOUT_S", _float(e, "REQUEST_TIMEOUT_S", 10.0)
            ),
            get_cache_max_age_s=_int(e, "GRAPHQL_GET_CACHE_MAX_AGE_S", 0),
            apq=_bool(e, "GRAPHQL_APQ", True),
            apq_cache_size=_int(e, "GRAPHQL_APQ_CACHE_SIZE", 1000),
            apq_max_query_bytes=_int(e, "GRAPHQL_APQ_MAX_QUERY_BYTES", 32 * 1024),
            apq_ttl_s=_int(e, "GRAPHQL_APQ_TTL_S", 7 * 24 * 3600),
            allow_list_path=_path(e, "GRAPHQL_ALLOW_LIST"),
            events_channel=_str(e, "REDIS_EVENTS_CHANNEL", "convos-gateway:events")
            or "convos-gateway:events",
            max_subscriptions_per_connection=_int(e, "GRAPHQL_MAX_SUBSCRIPTIONS", 10),
            ws_max_connections_per_user=_int(e, "GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", 5),
            ws_init_timeout_s=_float(e, "GRAPHQL_WS_INIT_TIMEOUT_S", 10.0),
            event_queue_size=_int(e, "GRAPHQL_EVENT_QUEUE_SIZE", 100),
            request_timeout_s=_float(e, "REQUEST_TIMEOUT_S", 10.0),
            change_feed=(_str(e, "CHANGE_FEED", "auto") or "auto").lower(),
            change_feed_poll_s=_float(e, "CHANGE_FEED_POLL_S", 2.0),
            search_mode=(_str(e, "SEARCH_MODE", "index") or "index").lower(),
            search_index_path=_index_path(e),
        )
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
        if self.execution_timeout_s <= 0 or self.ws_init_timeout_s <= 0:
            raise SettingsError("GraphQL timeouts must be positive")
        if self.request_timeout_s <= 0 or self.change_feed_poll_s <= 0:
            raise SettingsError("REQUEST_TIMEOUT_S and CHANGE_FEED_POLL_S must be positive")
        if self.change_feed not in {"auto", "changestream", "poll", "off"}:
            raise SettingsError("CHANGE_FEED must be auto, changestream, poll or off")
        if self.search_mode not in {"index", "scan"}:
            raise SettingsError("SEARCH_MODE must be index or scan")
        if self.max_list_size < 1 or self.event_queue_size < 1:
            raise SettingsError("GRAPHQL_MAX_LIST_SIZE and GRAPHQL_EVENT_QUEUE_SIZE must be >= 1")

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
