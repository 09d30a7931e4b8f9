"""The one table from an error code to its HTTP status.

Every edge that answers over HTTP (the REST routes, the GraphQL view where
GraphQL over HTTP needs a status: uploads, persisted queries) looks codes up
here, so a code cannot mean 400 in one place and 422 in another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Persisted-query codes, as Apollo's router names them.
PERSISTED_QUERY_NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED: Final = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH: Final = "PERSISTED_QUERY_HASH_MISMATCH"
OPERATION_NOT_IN_ALLOW_LIST: Final = "OPERATION_NOT_IN_ALLOW_LIST"
BAD_REQUEST: Final = "BAD_REQUEST"

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

STATUS_BY_CODE: Final[Mapping[str, int]] = {
    # Codes the resolver operations raise (resolvers.errors).
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    # Persisted queries (statuses as Apollo's router answers them).
    PERSISTED_QUERY_NOT_FOUND: 404,
    PERSISTED_QUERY_NOT_SUPPORTED: 400,
    PERSISTED_QUERY_HASH_MISMATCH: 400,
    OPERATION_NOT_IN_ALLOW_LIST: 403,
    BAD_REQUEST: 400,
}


def status_for(code: str) -> int:
    """The HTTP status of an error code; an unknown code is the caller's fault (400)."""
    return STATUS_BY_CODE.get(code, 400)
