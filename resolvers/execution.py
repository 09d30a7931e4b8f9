"""A faster path through graphql-core for resolver-less leaf fields.

Most of what a conversation page returns is leaf fields read from plain
attributes (``title``, ``updatedAt``...). For each of them graphql-core builds
a ``GraphQLResolveInfo``, looks up arguments, calls Strawberry's default
resolver through two wrappers, checks for an awaitable and walks
``complete_value`` down the non-null wrapper before serialising: several
microseconds per field, the largest share of a page's CPU (about 430 fields
for a page of 25 summaries).

:class:`LeafFastExecutionContext` answers such fields directly: read the
attribute, serialise it with the field's own scalar or enum, done. Its plan
is computed once per schema from what Strawberry itself marks as a basic
field (no resolver, no permission or field extension, no exception handler),
so a field with any behaviour of its own never takes it. Anything unusual
(a null in a non-null field, a value the scalar refuses, a schema extension
that wraps every resolver) goes through graphql-core's normal path, which
raises the same located errors as before.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

log = logging.getLogger(__name__)

# The graphql-core methods this class overrides; checked at start-up so that
# an upgrade changing it falls back to the normal path instead of breaking.
_EXPECTED = {
    "execute_field": [
        "self",
        "parent_type",
        "source",
        "field_details_list",
        "path",
        "position_context",
    ],
    "execute_fields": [
        "self",
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ],
}


_SLOW = object()  # "take graphql-core's normal path"

# Reads one field from its source: the serialised value, or _SLOW. It may
# raise; callers then take the normal path, which reports the error.
FastResolver = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class LeafPlan:
    """How to answer one resolver-less leaf field (or list of leaves)."""

    attribute: str
    leaf: GraphQLLeafType
    non_null: bool
    is_list: bool
    items_non_null: bool

    def resolver(self) -> FastResolver:
        """A function specialised for this field (no lookups on the plan per call)."""
        attribute, coerce, non_null = self.attribute, self.leaf.coerce_output_value, self.non_null
        if not self.is_list:

            def resolve_leaf(source: Any) -> Any:
                value = getattr(source, attribute)
                if value is None:
                    return _SLOW if non_null else None
                result = coerce(value)
                return _SLOW if result is None or result is Undefined else result

            return resolve_leaf
        items_non_null = self.items_non_null

        def resolve_list(source: Any) -> Any:
            value = getattr(source, attribute)
            if value is None:
                return _SLOW if non_null else None
            if not isinstance(value, list | tuple):
                return _SLOW
            items: list[Any] = []
            for item in value:
                if item is None:
                    if items_non_null:
                        return _SLOW
                    items.append(None)
                    continue
                coerced = coerce(item)
                if coerced is None or coerced is Undefined:
                    return _SLOW
                items.append(coerced)
            return items

        return resolve_list


def _plan_for(type_: GraphQLOutputType, attribute: str) -> LeafPlan | None:
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    is_list = isinstance(inner, GraphQLList)
    items_non_null = False
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items_non_null = isinstance(item, GraphQLNonNull)
        inner = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not is_leaf_type(inner):
        return None
    return LeafPlan(attribute, inner, non_null, is_list, items_non_null)


def leaf_plans(schema: GraphQLSchema) -> dict[str, dict[str, LeafPlan]]:
    """Plans for every basic leaf field of the schema, by type and field name."""
    plans: dict[str, dict[str, LeafPlan]] = {}
    for type_name, graphql_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            # Strawberry marks the resolver of a basic field (plain attribute,
            # nothing attached); anything else keeps the normal path.
            if not getattr(field.resolve, "_is_default", False) or field.args:
                continue
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if definition is None or getattr(definition, "default_resolver", None) is not getattr:
                continue
            plan = _plan_for(field.type, definition.python_name)
            if plan is not None:
                plans.setdefault(type_name, {})[field_name] = plan
    return plans


def _compatible() -> bool:
    for name, params in _EXPECTED.items():
        method = getattr(StrawberryGraphQLCoreExecutionContext, name, None)
        if method is None or list(inspect.signature(method).parameters) != params:
            return False
    return True


COMPATIBLE = _compatible()
if not COMPATIBLE:  # pragma: no cover - depends on the installed graphql-core
    log.warning("graphql-core's execute_field(s) changed; leaf fast path disabled")


class LeafFastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the leaf fast path.

    ``plans`` is filled for each schema by :func:`execution_context_for`.
    """

    plans: dict[str, dict[str, LeafPlan]] = {}
    resolvers: dict[str, dict[str, FastResolver]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A schema extension with a ``resolve`` hook must see every field:
        # then nothing takes the fast path.
        manager = self.middleware_manager
        self._fast = COMPATIBLE and not (manager is not None and manager.middlewares)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        # An object whose selected fields are all plain leaves (a conversation
        # summary, a page info) is answered in one loop, without a path or an
        # awaitable check per field.
        if self._fast:
            fields = self.resolvers.get(parent_type.name)
            if fields is not None:
                results: dict[str, Any] = {}
                for response_name, field_details_list in grouped_field_set.items():
                    resolve = fields.get(field_details_list[0].node.name.value)
                    if resolve is None:
                        break
                    try:
                        value = resolve(source_value)
                    except Exception:
                        break
                    if value is _SLOW:
                        break
                    results[response_name] = value
                else:
                    return results
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if self._fast:
            fields = self.resolvers.get(parent_type.name)
            if fields is not None:
                resolve = fields.get(field_details_list[0].node.name.value)
                if resolve is not None:
                    try:
                        result = resolve(source)
                    except Exception:
                        result = _SLOW  # the normal path reports it properly
                    if result is not _SLOW:
                        return result
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def execution_context_for() -> type[LeafFastExecutionContext]:
    """A fresh subclass whose plans :func:`install_plans` fills for one schema."""
    return type(
        "SchemaLeafFastExecutionContext",
        (LeafFastExecutionContext,),
        {"plans": {}, "resolvers": {}},
    )


def install_plans(context_class: type[LeafFastExecutionContext], schema: GraphQLSchema) -> None:
    context_class.plans = leaf_plans(schema)
    context_class.resolvers = {
        type_name: {name: plan.resolver() for name, plan in fields.items()}
        for type_name, fields in context_class.plans.items()
    }
