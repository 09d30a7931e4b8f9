"""What the current request is, for logs: its id, its user, its route or operation.

One :class:`RequestInfo` per HTTP request or WebSocket connection, created by
the request middleware (app/request_middleware.py) and held in a context
variable, so any log line written while the request runs can carry it. The
object is mutable on purpose: the user is known only once a token has been
verified, the GraphQL operation only once the document is parsed, and tasks
started by the request (which copy the context) still see the same object.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

P = ParamSpec("P")

REQUEST_ID_HEADER = b"x-request-id"
# A caller's own id is echoed only when it cannot break a log line or a header.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(slots=True)
class RequestInfo:
    """The request a log line belongs to."""

    request_id: str
    method: str = ""
    scope: MutableMapping[str, Any] | None = None  # the ASGI scope, read lazily for the route
    user_id: str | None = None
    operation: str | None = None  # "query Recent" for GraphQL

    @property
    def route(self) -> str | None:
        """The matched route's template (``/api/convos/{id}``), never the raw path."""
        route = self.scope.get("route") if self.scope is not None else None
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else None


_CURRENT: ContextVar[RequestInfo | None] = ContextVar("convos_request", default=None)


def current() -> RequestInfo | None:
    return _CURRENT.get()


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a new one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
            break
    # 128 random bits as 32 hex digits: uuid4's entropy without building a UUID.
    return os.urandom(16).hex()


def noting_user(
    verify: Callable[Concatenate[Any, P], str],
) -> Callable[Concatenate[Any, P], str]:
    """Decorate a token verifier so the user it returns is noted on the current request."""

    @functools.wraps(verify)
    def wrapper(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> str:
        user = verify(self, *args, **kwargs)
        info = _CURRENT.get()
        if info is not None:
            info.user_id = user
        return user

    return wrapper


def note_operation(operation: str) -> None:
    """Record the GraphQL operation (``"<type> <name>"``) the current request runs."""
    info = _CURRENT.get()
    if info is not None:
        info.operation = operation


def enter(info: RequestInfo) -> Callable[[], None]:
    """Make ``info`` the current request; call the result to leave it."""
    token = _CURRENT.set(info)
    return functools.partial(_CURRENT.reset, token)
