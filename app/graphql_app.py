"""The GraphQL endpoint: Strawberry's ASGI view with our context and encoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.auth import TokenVerifier
from app.client_ip import TrustedProxies
from app.jsonutil import dumps
from app.settings import Settings
from resolvers.context import GraphQLContext
from resolvers.errors import Unauthenticated
from resolvers.schema import build_schema, should_mask
from resolvers.services import Services


def _introspection_field(context: IgnoreContext) -> bool:
    # GraphiQL's introspection query nests ofType a dozen levels deep; the
    # depth limit protects data fields, and introspection has its own switch.
    return context.field_name.startswith("__")


ExtensionFactory = Callable[[], SchemaExtension]


def schema_extensions(settings: Settings) -> list[ExtensionFactory]:
    """The protective extensions, each bounded by a setting (see app/settings.py).

    Strawberry builds extensions per request from these factories. The
    validation rules are created once here: the validation cache is keyed by
    the rule classes, so fresh classes per request would never hit it.
    """
    rules = (
        depth_validator(settings.max_query_depth, _introspection_field, None),
        alias_validator(settings.max_aliases),
    )
    extensions: list[ExtensionFactory] = [
        lambda: ParserCache(maxsize=settings.parser_cache_size),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=settings.validation_cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Internal server error"),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def make_schema(settings: Settings) -> strawberry.Schema:
    return build_schema(schema_extensions(settings))


class GraphQLApp(GraphQL[GraphQLContext, None]):
    """Strawberry's ASGI view with the gateway's auth, context and JSON encoder."""

    def __init__(
        self, schema: strawberry.Schema, settings: Settings, services: Services,
        verifier: TokenVerifier, proxies: TrustedProxies | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.services = services
        self.verifier = verifier
        self.proxies = proxies or TrustedProxies(())

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GraphQLContext:
        try:
            user: str | None = self.verifier.user_id(request.headers.get("authorization"))
            reason = ""
        except Unauthenticated as exc:
            user, reason = None, exc.message
        return GraphQLContext(
            services=self.services, user_id=user, auth_error=reason or "No auth token",
            # The same client address REST uses, so per-IP limits are shared.
            extra={"request": request, "client_ip": self.proxies.for_connection(request)},
        )

    def encode_json(self, data: Any) -> bytes:
        return dumps(data)
