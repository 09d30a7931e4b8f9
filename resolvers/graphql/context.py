"""The per-request GraphQL context: who is asking and their loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from resolvers.adapters.services import Services
from resolvers.graphql.loaders import Loaders, make_loaders
from resolvers.operations.errors import Unauthenticated


@dataclass
class GraphQLContext:
    """Built by the process for each request or subscription.

    ``user_id`` is None when the request carried no valid token; the schema
    itself (introspection, GraphiQL) needs none, every data field does.
    """

    services: Services
    user_id: str | None
    auth_error: str = "No auth token"
    # How long one operation may run before the edge answers TIMEOUT; an
    # operation that waits (generateTitle) fits its wait inside it.
    deadline_s: float | None = None
    # Edge-specific extras (the HTTP request, a client IP) that some
    # operations, such as rate limits, need; resolvers never read a Request.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> str:
        if self.user_id is None:
            raise Unauthenticated(self.auth_error)
        return self.user_id

    @cached_property
    def loaders(self) -> Loaders:
        return make_loaders(self.services, self.user)

    def reset_loaders(self) -> None:
        """Forget cached loads (a subscription delivers each event with fresh ones)."""
        self.__dict__.pop("loaders", None)
