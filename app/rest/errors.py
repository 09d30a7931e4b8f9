"""How errors look on the REST edge: LibreChat's status codes and bodies."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.responses import Response

from app.http_errors import status_for
from app.jsonutil import JSONResponse
from resolvers.errors import RateLimited, UserError
from resolvers.rate_limits import RateLimitUnavailable

log = logging.getLogger(__name__)


INTERNAL_ERROR = {"error": "Internal server error"}
UNAVAILABLE = {"error": "Service unavailable"}


def user_error_response(exc: UserError) -> Response:
    response = JSONResponse(exc.body, status_code=status_for(exc.code))
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def fault_response(exc: Exception) -> Response:
    """A server-side failure: 503 while the database (or the rate limits' Redis)
    is unreachable, else 500.

    No stack trace or driver message leaves the process; the log has them.
    """
    if isinstance(exc, ConnectionFailure | ServerSelectionTimeoutError):
        log.warning("database unavailable: %s", exc)
        return JSONResponse(UNAVAILABLE, status_code=503)
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        # The shared title cache lives in Redis when replicas run.
        log.warning("redis unavailable: %s", exc)
        return JSONResponse(UNAVAILABLE, status_code=503)
    if isinstance(exc, RateLimitUnavailable):
        # Limited routes fail closed while the counters' Redis is unreachable.
        return JSONResponse(UNAVAILABLE, status_code=503)
    if isinstance(exc, PyMongoError) and exc.timeout:
        # The request's deadline (maxTimeMS) ran out in the database.
        log.warning("database deadline exceeded: %s", exc)
        return JSONResponse(UNAVAILABLE, status_code=503)
    if isinstance(exc, PyMongoError):
        log.exception("database error")
    else:
        log.exception("unexpected error")
    return JSONResponse(INTERNAL_ERROR, status_code=500)


Endpoint = Callable[[Request], Awaitable[Response]]


def rest_endpoint(handler: Endpoint) -> Endpoint:
    """Translate every exception of a REST handler into LibreChat's JSON shape."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except UserError as exc:
            return user_error_response(exc)
        except Exception as exc:  # every fault becomes a clean 500/503
            return fault_response(exc)

    return endpoint
