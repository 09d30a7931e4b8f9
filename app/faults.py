"""Which server-side failures mean "a dependency is down", for every edge.

While MongoDB or a Redis the gateway needs is unreachable, a request cannot
be served and the caller may retry: REST answers 503, GraphQL an error with
code SERVICE_UNAVAILABLE, and the log gets one warning line, not a
traceback per request (an outage would bury everything else in the log).
Any other exception is a bug: 500 / INTERNAL_SERVER_ERROR with its traceback.
"""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from resolvers.adapters.rate_limiter import RateLimitUnavailable
from resolvers.operations.locks import UserLockTimeout


def unavailable_dependency(exc: BaseException) -> str | None:
    """``"database"``, ``"redis"`` or ``"tag lock"`` when ``exc`` says that
    dependency is down (or held past TAG_LOCK_WAIT_S), ``"database deadline"``
    when the request's time (REQUEST_TIMEOUT_S, sent as maxTimeMS) ran out
    there, else None."""
    if isinstance(exc, ConnectionFailure | ServerSelectionTimeoutError):
        return "database"
    if isinstance(exc, PyMongoError) and exc.timeout:
        # A slow query stopped by its deadline: the caller may retry later.
        return "database deadline"
    # The rate limits' counters (fail closed) and the shared title cache.
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | RateLimitUnavailable):
        return "redis"
    if isinstance(exc, UserLockTimeout):
        # Another replica held the user's tag lock for TAG_LOCK_WAIT_S.
        return "tag lock"
    return None
