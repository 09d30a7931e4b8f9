"""Errors a user can act on, raised by resolver operations.

Each carries a stable ``code`` (GraphQL ``extensions.code``) and a message
safe to show the caller, nothing else: how an edge answers a code (an HTTP
status, LibreChat's JSON body) is the edge's business (``app/http_errors.py``).
GraphQL passes ``extensions`` through and masks every other exception.
"""

from __future__ import annotations

from typing import Any, Final


class UserError(Exception):
    """Base of every error whose message is safe to show the caller."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies an original error's `extensions` onto the GraphQLError.
        return {"code": self.code}


class BadInput(UserError):
    code = "BAD_USER_INPUT"  # malformed or out-of-range input


class NotFound(UserError):
    code = "NOT_FOUND"  # the thing does not exist for anyone


# Messages LibreChat's clients and scripts match on, word for word.
CONVERSATION_NOT_FOUND: Final = "Conversation not found"
TITLE_NOT_FOUND: Final = "Title not found or method not implemented for the conversation's endpoint"


def conversation_not_found() -> NotFound:
    return NotFound(CONVERSATION_NOT_FOUND)


class Forbidden(UserError):
    code = "FORBIDDEN"  # the thing exists but belongs to another user


CONVERSATION_FORBIDDEN: Final = "You don't have access to this conversation"


def conversation_forbidden() -> Forbidden:
    return Forbidden(CONVERSATION_FORBIDDEN)


class Conflict(UserError):
    code = "CONFLICT"  # the change would collide with existing data


class Unauthenticated(UserError):
    code = "UNAUTHENTICATED"  # no valid token


class RateLimited(UserError):
    """Too many requests in the window; ``retry_after_s`` says how long to wait."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after_s}


class PayloadTooLarge(UserError):
    code = "PAYLOAD_TOO_LARGE"  # a body or file over its configured limit
