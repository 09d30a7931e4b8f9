"""How errors look on the REST edge: LibreChat's status codes and bodies."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response

from app.faults import unavailable_dependency
from app.http_errors import INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE, body_for, status_for
from app.jsonutil import JSONResponse
from resolvers.operations.errors import RateLimited, UserError

log = logging.getLogger(__name__)


_INTERNAL = "Internal server error"
_UNAVAILABLE = "Service unavailable"


def error_response(code: str, message: str) -> Response:
    """LibreChat's answer for an error code (see ``app.http_errors``)."""
    return JSONResponse(body_for(code, message), status_code=status_for(code))


def user_error_response(exc: UserError) -> Response:
    response = error_response(exc.code, exc.message)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def fault_response(exc: Exception) -> Response:
    """A server-side failure: 503 while the database (or the rate limits' Redis)
    is unreachable or the request's database deadline ran out, else 500.

    No stack trace or driver message leaves the process; the log has them.
    """
    dependency = unavailable_dependency(exc)
    if dependency is not None:
        log.warning("%s unavailable: %s", dependency, type(exc).__name__)
        return error_response(SERVICE_UNAVAILABLE, _UNAVAILABLE)
    if isinstance(exc, PyMongoError):
        log.exception("database error")
    else:
        log.exception("unexpected error")
    return error_response(INTERNAL_SERVER_ERROR, _INTERNAL)


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
