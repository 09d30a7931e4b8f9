"""The executable schema and the extensions that protect it.

The extension list is :func:`schema_extensions`: the one place a schema
extension is added (each bounded by a setting in app/settings.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)

from app.faults import unavailable_dependency
from app.graphql_limits import Limits, create_limits_rule
from app.graphql_metrics import OperationMetrics
from app.http_errors import SERVICE_UNAVAILABLE
from app.settings import Settings
from app.tracing import Tracing
from resolvers.graphql.schema import build_schema, should_mask

INTERNAL: Final = "INTERNAL_SERVER_ERROR"
UNAVAILABLE_MESSAGE: Final = "Service unavailable"

log = logging.getLogger("convos_gateway.graphql")

ExtensionFactory = Callable[[], SchemaExtension]


class _OnlyServerErrors(logging.Filter):
    """Keep Strawberry's error log for errors we mask (the server's faults).

    Strawberry logs every GraphQL error at ERROR level; a typo in a client's
    query or a NOT_FOUND is the client's business, not an operator's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError):
            return True
        original = error.original_error
        dependency = unavailable_dependency(original) if original is not None else None
        if dependency is not None:
            # An outage: one line per request, as REST logs it, not a traceback.
            log.warning("%s unavailable: %s", dependency, type(original).__name__)
            return False
        return should_mask(error)


def quiet_request_errors() -> None:
    """Install :class:`_OnlyServerErrors` on Strawberry's execution logger (once)."""
    logger = logging.getLogger("strawberry.execution")
    if not any(isinstance(f, _OnlyServerErrors) for f in logger.filters):
        logger.addFilter(_OnlyServerErrors())


class _MaskErrors(MaskErrors):
    """MaskErrors whose masked errors say INTERNAL_SERVER_ERROR.

    The HTTP status stays 200: GraphQL over HTTP asks for 2xx whenever the
    response has a ``data`` entry, even a null one."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is not None and unavailable_dependency(original) is not None:
            # Nothing is wrong with the request: retry later (HTTP 503).
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": SERVICE_UNAVAILABLE},
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_cost=settings.max_query_cost,
        list_size_estimate=settings.list_size_estimate,
        max_list_size=settings.max_list_size,
        max_messages=settings.max_messages_per_conversation,
    )


def schema_extensions(settings: Settings, tracing: Tracing | None = None) -> list[ExtensionFactory]:
    """The schema's extensions, in order: add a new one here.

    Strawberry builds extensions per request from these factories. The
    validation rule is created once here: the validation cache is keyed by
    the rule classes, so fresh classes per request would never hit it.
    """
    rules = (create_limits_rule(limits_from(settings)),)
    extensions: list[ExtensionFactory] = [
        lambda: ParserCache(maxsize=settings.parser_cache_size),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidationCache(maxsize=settings.validation_cache_size),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: _MaskErrors(should_mask_error=should_mask, error_message="Internal server error"),
        *([OperationMetrics] if settings.metrics_enabled else []),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    if tracing is not None:
        # First, so the operation span covers parsing and validation too.
        extensions.insert(0, tracing.graphql_extension())
    return extensions


def make_schema(settings: Settings, tracing: Tracing | None = None) -> strawberry.Schema:
    quiet_request_errors()
    return build_schema(
        schema_extensions(settings, tracing),
        field_suggestions=settings.field_suggestions,
        max_batch=settings.max_batch,
        fast_path=settings.graphql_fast_path,
    )
