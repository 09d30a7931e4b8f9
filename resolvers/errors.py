"""Errors a user can act on, raised by resolver operations.

Each carries a stable ``code`` (GraphQL ``extensions.code``) and the body
LibreChat's REST contract sends. The REST layer maps codes to status codes;
GraphQL passes ``extensions`` through and masks every other exception.
"""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Base of every error whose message is safe to show the caller."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The LibreChat JSON body for this error; most use {"error": message}.
        self.body: dict[str, Any] = body if body is not None else {"error": message}

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies an original error's `extensions` onto the GraphQLError.
        return {"code": self.code}


class BadInput(UserError):
    """Malformed or out-of-range input (REST 400)."""

    code = "BAD_USER_INPUT"


class NotFound(UserError):
    """The thing does not exist for anyone (REST 404)."""

    code = "NOT_FOUND"


class Forbidden(UserError):
    """The thing exists but belongs to another user (REST 403)."""

    code = "FORBIDDEN"


class Conflict(UserError):
    """The change would collide with existing data (REST 409)."""

    code = "CONFLICT"


class Unauthenticated(UserError):
    """No valid token (REST 401 with LibreChat's ``{"message": reason}``)."""

    code = "UNAUTHENTICATED"

    def __init__(self, message: str) -> None:
        super().__init__(message, body={"message": message})


class PayloadTooLarge(UserError):
    """A body or file over its configured limit (REST 413)."""

    code = "PAYLOAD_TOO_LARGE"

    def __init__(self, message: str) -> None:
        super().__init__(message, body={"message": message})


class RateLimited(UserError):
    """Too many requests in the window (REST 429 with Retry-After)."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, body={"message": message})
        self.retry_after_s = retry_after_s

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after_s}


CONVERSATION_NOT_FOUND = "Conversation not found"


def conversation_not_found() -> NotFound:
    return NotFound(CONVERSATION_NOT_FOUND)


def conversation_forbidden() -> Forbidden:
    return Forbidden(
        "You don't have access to this conversation",
        body={"error": "Unauthorized", "message": "You don't have access to this conversation"},
    )
