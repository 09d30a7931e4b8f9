"""GraphQL over HTTP: content negotiation, statuses and the error shape.

``application/graphql-response+json`` when the client accepts it, with 400
for parse, validation and variable errors (``application/json`` keeps 200, as
the specification asks during its transition); request errors carry no
``data`` entry; malformed requests answer ``{"errors": [...]}`` in JSON, not
text. Error codes map to statuses through app/http_errors.py, the table the
REST edge uses too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.types import ExecutionResult

from app.graphql.persisted_queries import NOT_FOUND
from app.http_errors import REQUEST_LEVEL_CODES, SERVICE_UNAVAILABLE, status_for
from app.jsonutil import JSONResponse, dumps
from resolvers.operations.errors import RateLimited, UserError

GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
APPLICATION_JSON: Final = "application/json"
TIMEOUT: Final = "TIMEOUT"
_NO_STORE = "private, no-cache, must-revalidate"


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header (GraphQL over HTTP §7.4).

    ``application/graphql-response+json`` when the client lists it at least
    as high as JSON; ``application/json`` for ``*/*``, no header, or anything
    else (the specification's advice while clients migrate).
    """
    if not accept:
        return APPLICATION_JSON
    best, best_q = APPLICATION_JSON, -1.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = GRAPHQL_RESPONSE_JSON
        elif media in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = APPLICATION_JSON
        else:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q or (q == best_q and candidate == GRAPHQL_RESPONSE_JSON):
            best, best_q = candidate, q
    return best if best_q > 0 else APPLICATION_JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Errors before execution (parse, validation, variables): no data, no paths."""
    return (
        bool(result.errors)
        and result.data is None
        and all(e.path is None for e in result.errors or ())
    )


def _codes(errors: list[GraphQLError]) -> Iterator[str]:
    for error in errors:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            yield code


def timeout_error(seconds: float) -> GraphQLError:
    """The error of an operation stopped by the execution timeout (503)."""
    return GraphQLError(
        f"The operation took longer than {seconds:g} s and was stopped",
        extensions={"code": TIMEOUT},
    )


class SubResponse(Response):
    """Strawberry's per-request sub-response, with the negotiated media type."""

    media: str = APPLICATION_JSON


def set_status(
    sub: SubResponse,
    result: ExecutionResult,
    *,
    method: str,
    get_cache_max_age_s: int,
) -> None:
    """The HTTP status and caching headers of one executed request."""
    errors = result.errors or []
    codes = set(_codes(errors))
    status: int | None = None
    if codes & {TIMEOUT, SERVICE_UNAVAILABLE}:
        # Retry later: nothing is wrong with the request.
        status = 503
    else:
        for code in codes:
            if code in REQUEST_LEVEL_CODES:
                status = status_for(code)
                break
        else:
            if is_request_error(result) and sub.media == GRAPHQL_RESPONSE_JSON:
                status = 400
    if status is not None:
        sub.status_code = status
    if NOT_FOUND in codes:
        # The client sends the document next; no cache may keep the miss.
        sub.headers["Cache-Control"] = _NO_STORE
    elif method == "GET":
        sub.headers["Vary"] = "Authorization, Accept"
        if not errors and get_cache_max_age_s > 0:
            sub.headers["Cache-Control"] = f"public, max-age={get_cache_max_age_s}"


class Rejected(Exception):
    """A request refused before GraphQL runs, answered as a JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.code = code


def error_response(
    accept: str | None,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
) -> Response:
    """A request refused before execution, in the negotiated media type."""
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    media = negotiate(accept)
    return Response(
        dumps({"errors": [error]}),
        status_code=status,
        media_type=f"{media}; charset=utf-8",
        headers=dict(headers or {}),
    )


def graphql_error(
    status: int, message: str, code: str, extensions: dict[str, Any] | None = None
) -> Response:
    """An upload refused before execution: an HTTP status and GraphQL's error shape."""
    error = {"message": message, "extensions": {"code": code, **(extensions or {})}}
    return JSONResponse({"errors": [error]}, status_code=status)


def refusal(exc: UserError) -> Response:
    """An operation's error before execution, with the status REST answers for it."""
    response = graphql_error(status_for(exc.code), exc.message, exc.code, exc.extensions)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response
