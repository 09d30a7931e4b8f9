"""Persisted queries in Apollo's APQ wire format, and an optional allow-list.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": H}``
without the document; if the gateway knows H it runs the stored document,
otherwise it answers ``PersistedQueryNotFound`` (HTTP 404, not cacheable) and
the client repeats the request with the document, which is then stored under H
once it has parsed and validated. GET works the same way (parameters in the
query string), so a proxy can cache persisted queries by URL.

Stores are bounded: an LRU in memory (per process), in front of Redis when
``REDIS_URI`` is set (shared by replicas, entries expire).

In allow-list mode (``GRAPHQL_ALLOW_LIST``) only operations listed in a
manifest run, by hash or by full text whose hash is listed, and registration
is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from graphql import GraphQLError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.http_errors import (
    BAD_REQUEST,
    OPERATION_NOT_IN_ALLOW_LIST,
    PERSISTED_QUERY_HASH_MISMATCH,
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_SUPPORTED,
    status_for,
)
from app.settings import Settings, SettingsError

log = logging.getLogger("convos_gateway.apq")

REDIS_PREFIX = "convos-gateway:apq:"

NOT_FOUND = PERSISTED_QUERY_NOT_FOUND
NOT_SUPPORTED = PERSISTED_QUERY_NOT_SUPPORTED
HASH_MISMATCH = PERSISTED_QUERY_HASH_MISMATCH
NOT_ALLOWED = OPERATION_NOT_IN_ALLOW_LIST


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run; carries its GraphQL error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status_for(code)

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(str(self), extensions={"code": self.code})


class QueryStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, query: str) -> None: ...


class MemoryStore:
    """A bounded LRU of documents by hash, local to the process."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._items: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, digest: str) -> str | None:
        query = self._items.get(digest)
        if query is not None:
            self._items.move_to_end(digest)
        return query

    async def put(self, digest: str, query: str) -> None:
        if self._max <= 0:
            return
        self._items[digest] = query
        self._items.move_to_end(digest)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


class RedisStore:
    """Documents shared by replicas through Redis, with the memory LRU in front.

    Redis failures degrade to the memory store: a miss makes the client send
    the document again, which is correct, only slower.
    """

    def __init__(self, redis: Redis, memory: MemoryStore, ttl_s: int) -> None:
        self._redis = redis
        self._memory = memory
        self._ttl = ttl_s

    async def get(self, digest: str) -> str | None:
        query = await self._memory.get(digest)
        if query is not None:
            return query
        try:
            raw = await self._redis.get(REDIS_PREFIX + digest)
        except RedisError as exc:
            log.warning("persisted query lookup in Redis failed: %s", exc)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        await self._memory.put(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        await self._memory.put(digest, query)
        try:
            await self._redis.set(REDIS_PREFIX + digest, query, ex=self._ttl or None)
        except RedisError as exc:
            log.warning("persisted query store in Redis failed: %s", exc)


def load_allow_list(path: Path) -> dict[str, str]:
    """Read a manifest: ``{hash: query}`` or Apollo's persisted-query manifest.

    Apollo's format is ``{"format": "apollo-persisted-query-manifest",
    "operations": [{"id": ..., "body": ...}, ...]}``; an operation's ``id`` is
    its sha256 unless it says otherwise, so we hash the body ourselves and
    refuse a manifest whose ids disagree (it would allow something else).

    Raises:
        SettingsError: the file is missing or malformed.
    """
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"GRAPHQL_ALLOW_LIST: cannot read {path}: {exc}") from exc
    bodies: list[tuple[str | None, str]] = []
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        for op in data["operations"]:
            if not isinstance(op, dict) or not isinstance(op.get("body"), str):
                raise SettingsError("GRAPHQL_ALLOW_LIST: every operation needs a string body")
            op_id = op.get("id")
            bodies.append((op_id if isinstance(op_id, str) else None, op["body"]))
    elif isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        bodies = [(k, v) for k, v in data.items()]
    else:
        raise SettingsError(
            "GRAPHQL_ALLOW_LIST: expected {hash: query} or an apollo-persisted-query-manifest"
        )
    allowed: dict[str, str] = {}
    for given, body in bodies:
        digest = sha256_hex(body)
        if given is not None and given != digest:
            raise SettingsError(
                f"GRAPHQL_ALLOW_LIST: id {given[:16]}... is not the sha256 of its body"
            )
        allowed[digest] = body
    return allowed


@dataclass
class Resolved:
    """The document to run, and whether to store it once it validates."""

    query: str | None
    register_as: str | None = None


class PersistedQueries:
    """Turns a request's query and extensions into the document to run."""

    def __init__(
        self,
        store: QueryStore | None,
        *,
        allow_list: Mapping[str, str] | None = None,
        max_query_bytes: int = 32 * 1024,
    ) -> None:
        self.store = store
        self.allow_list = dict(allow_list) if allow_list is not None else None
        self.max_query_bytes = max_query_bytes

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None) -> PersistedQueries:
        allow_list = load_allow_list(settings.allow_list_path) if settings.allow_list_path else None
        store: QueryStore | None = None
        if settings.apq:
            memory = MemoryStore(settings.apq_cache_size)
            store = memory if redis is None else RedisStore(redis, memory, settings.apq_ttl_s)
        return cls(store, allow_list=allow_list, max_query_bytes=settings.apq_max_query_bytes)

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The document for this request.

        Raises:
            PersistedQueryError: unknown hash, hash mismatch, not allowed, or
                persisted queries are off.
        """
        persisted = extensions.get("persistedQuery") if extensions else None
        if persisted is None:
            # The normal path: a full document and no hash.
            if self.allow_list is not None and query is not None:
                self._check_allowed(sha256_hex(query))
            return Resolved(query)
        digest = self._digest(persisted)
        if self.allow_list is not None:
            self._check_allowed(digest)
            if query is not None and sha256_hex(query) != digest:
                raise PersistedQueryError("provided sha does not match query", HASH_MISMATCH)
            return Resolved(self.allow_list[digest])
        if self.store is None:
            raise PersistedQueryError("PersistedQueryNotSupported", NOT_SUPPORTED)
        if query is None:
            stored = await self.store.get(digest)
            if stored is None:
                raise PersistedQueryError("PersistedQueryNotFound", NOT_FOUND)
            return Resolved(stored)
        if sha256_hex(query) != digest:
            raise PersistedQueryError("provided sha does not match query", HASH_MISMATCH)
        if len(query) > self.max_query_bytes:
            return Resolved(query)
        return Resolved(query, register_as=digest)

    async def register(self, resolved: Resolved) -> None:
        """Store a document that parsed and validated (Apollo stores only those)."""
        if (
            resolved.register_as is not None
            and resolved.query is not None
            and self.store is not None
        ):
            await self.store.put(resolved.register_as, resolved.query)

    def _check_allowed(self, digest: str) -> None:
        assert self.allow_list is not None
        if digest not in self.allow_list:
            raise PersistedQueryError(
                "This gateway runs only registered operations; this one is not registered",
                NOT_ALLOWED,
            )

    @staticmethod
    def _digest(persisted: object) -> str:
        if not isinstance(persisted, dict):
            raise PersistedQueryError("extensions.persistedQuery must be an object", BAD_REQUEST)
        if persisted.get("version") != 1:
            raise PersistedQueryError("Unsupported persisted query version", BAD_REQUEST)
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError(
                "extensions.persistedQuery.sha256Hash must be a hex sha256", BAD_REQUEST
            )
        return digest.lower()
