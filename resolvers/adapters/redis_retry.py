"""How every Redis client of the gateway treats a connection from before a restart.

A pooled connection opened before Redis restarted fails once; it is retried
at once on a fresh one, so a restart refuses no request (rate limits,
REDIS_URI's client, the title cache all use this).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def stale_connection_retry() -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` / ``ConnectionPool.from_url``."""
    return {"retry": Retry(NoBackoff(), 1), "retry_on_error": [RedisConnectionError]}
