"""The one table from an error code to its HTTP answer.

Every edge that answers over HTTP looks codes up here: the REST routes take
the status and LibreChat's JSON body, the GraphQL view the status where
GraphQL over HTTP needs one (uploads, persisted queries). So a code cannot
mean 400 in one place and 422 in another, and LibreChat's bodies, which its
client and scripts match on, are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from resolvers.operations.errors import TITLE_NOT_FOUND

# Persisted-query codes, as Apollo's router names them.
PERSISTED_QUERY_NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED: Final = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH: Final = "PERSISTED_QUERY_HASH_MISMATCH"
OPERATION_NOT_IN_ALLOW_LIST: Final = "OPERATION_NOT_IN_ALLOW_LIST"
BAD_REQUEST: Final = "BAD_REQUEST"
# Server faults (the REST edge's 500 and 503); never raised as a UserError.
INTERNAL_SERVER_ERROR: Final = "INTERNAL_SERVER_ERROR"
SERVICE_UNAVAILABLE: Final = "SERVICE_UNAVAILABLE"

# An unknown REST path under a prefix we serve (LibreChat's catch-all 404).
ENDPOINT_NOT_FOUND: Final = "Endpoint not found"

# Codes that decide a GraphQL response's HTTP status on their own: the
# request never ran. Errors raised while executing keep GraphQL over HTTP's 200.
REQUEST_LEVEL_CODES: Final = frozenset(
    {
        PERSISTED_QUERY_NOT_FOUND,
        PERSISTED_QUERY_NOT_SUPPORTED,
        PERSISTED_QUERY_HASH_MISMATCH,
        OPERATION_NOT_IN_ALLOW_LIST,
        BAD_REQUEST,
    }
)

Body = Callable[[str], dict[str, Any]]


def _error(message: str) -> dict[str, Any]:
    return {"error": message}


def _message(message: str) -> dict[str, Any]:
    return {"message": message}


def _unauthorized(message: str) -> dict[str, Any]:
    # LibreChat's validateConvoAccess: a fixed "Unauthorized" plus the reason.
    return {"error": "Unauthorized", "message": message}


@dataclass(frozen=True)
class HttpAnswer:
    """How one code is answered over HTTP."""

    status: int
    body: Body = _error


ANSWERS: Final[Mapping[str, HttpAnswer]] = {
    # Codes the resolver operations raise (resolvers.operations.errors).
    "BAD_USER_INPUT": HttpAnswer(400),
    "UNAUTHENTICATED": HttpAnswer(401, _message),  # passport-jwt's {"message": reason}
    "FORBIDDEN": HttpAnswer(403, _unauthorized),
    "NOT_FOUND": HttpAnswer(404),
    "CONFLICT": HttpAnswer(409),
    "PAYLOAD_TOO_LARGE": HttpAnswer(413, _message),  # multer's and the body limit's shape
    "RATE_LIMITED": HttpAnswer(429, _message),  # express-rate-limit's shape
    INTERNAL_SERVER_ERROR: HttpAnswer(500),
    SERVICE_UNAVAILABLE: HttpAnswer(503),
    # Persisted queries (statuses as Apollo's router answers them; GraphQL
    # builds their bodies itself).
    PERSISTED_QUERY_NOT_FOUND: HttpAnswer(404),
    PERSISTED_QUERY_NOT_SUPPORTED: HttpAnswer(400),
    PERSISTED_QUERY_HASH_MISMATCH: HttpAnswer(400),
    OPERATION_NOT_IN_ALLOW_LIST: HttpAnswer(403),
    BAD_REQUEST: HttpAnswer(400),
}
_UNKNOWN = HttpAnswer(400)  # an unknown code is the caller's fault

# 404s that LibreChat answers as {"message": ...} rather than {"error": ...}:
# its gen_title route and its catch-all.
_MESSAGE_SHAPED: Final = frozenset({TITLE_NOT_FOUND, ENDPOINT_NOT_FOUND})


def status_for(code: str) -> int:
    """The HTTP status of an error code."""
    return ANSWERS.get(code, _UNKNOWN).status


def body_for(code: str, message: str) -> dict[str, Any]:
    """LibreChat's JSON body for an error code and its message."""
    if message in _MESSAGE_SHAPED:
        return _message(message)
    return ANSWERS.get(code, _UNKNOWN).body(message)
