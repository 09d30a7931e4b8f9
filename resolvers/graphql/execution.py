"""A faster path through graphql-core for resolver-less fields.

Most of what a conversation page returns is fields read from plain
attributes (``title``, ``updatedAt``, an edge's ``node``...). For each of them
graphql-core builds a ``GraphQLResolveInfo``, looks up arguments, calls
Strawberry's default resolver through two wrappers, checks for an awaitable,
makes a path and walks ``complete_value`` down the type's wrappers: several
microseconds per field, the largest share of a page's CPU (about 430 fields
for a page of 25 summaries).

:class:`LeafFastExecutionContext` answers such fields directly: read the
attribute, serialise it with the field's own scalar or enum, or answer an
object's (or a list of objects') sub-selection the same way when it is plain
too. Which fields qualify is computed once per schema from what Strawberry
itself marks as a basic field (no resolver, no permission or field
extension, no exception handler), so a field with any behaviour of its own
never takes it, and a selection is checked before any value is read.
Anything unusual (a null in a non-null field, a value the scalar refuses, a
schema extension that wraps every resolver) goes through graphql-core's
normal path, which raises the same located errors as before.

The fast path reads graphql-core's internals (``FieldDetails.node``,
``collect_subfields``' triple, ``execute_field(s)``' parameters); both
libraries are pinned exactly in pyproject.toml. Should a shape still differ,
every read of it is inside a ``try`` whose failure takes the normal path, and
``GRAPHQL_FAST_PATH=false`` (``build_schema(fast_path=False)``) leaves
Strawberry's own execution context in place altogether.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    """A resolver-less field holding an object (or a list of objects)."""

    attribute: str
    object_type: GraphQLObjectType
    non_null: bool
    is_list: bool
    items_non_null: bool


_Plan = TypeVar("_Plan", LeafPlan, ObjectPlan)


def _field_name(field_details_list: Any) -> str:
    """The schema name of a collected field (graphql-core's ``FieldDetails``)."""
    return str(field_details_list[0].node.name.value)


def _subfields(context: Any, object_type: GraphQLObjectType, field_details_list: Any) -> Any:
    """(grouped field set, new defer usages) below a field, from graphql-core."""
    sub_fields, new_defer_usages, _ = context.collect_subfields(object_type, field_details_list)
    return sub_fields, new_defer_usages


def _unwrap(type_: GraphQLOutputType) -> tuple[Any, bool, bool, bool]:
    """(named type, non_null, is_list, items_non_null)."""
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    is_list = isinstance(inner, GraphQLList)
    items_non_null = False
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items_non_null = isinstance(item, GraphQLNonNull)
        inner = item.of_type if isinstance(item, GraphQLNonNull) else item
    return inner, non_null, is_list, items_non_null


def _plan_for(type_: GraphQLOutputType, attribute: str) -> LeafPlan | ObjectPlan | None:
    inner, non_null, is_list, items_non_null = _unwrap(type_)
    if is_leaf_type(inner):
        return LeafPlan(attribute, inner, non_null, is_list, items_non_null)
    # An object type with no is_type_of check (no interfaces): graphql-core
    # completes it by executing its sub-selection on the value as it is.
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return ObjectPlan(attribute, inner, non_null, is_list, items_non_null)
    return None


def basic_field_plans(
    schema: GraphQLSchema,
) -> dict[str, dict[str, LeafPlan | ObjectPlan]]:
    """Plans for every basic field of the schema (leaf or object), by type and name."""
    plans: dict[str, dict[str, LeafPlan | ObjectPlan]] = {}
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


def _plans_of(schema: GraphQLSchema, kind: type[_Plan]) -> dict[str, dict[str, _Plan]]:
    """The basic field plans of one kind, by type and field name."""
    chosen: dict[str, dict[str, _Plan]] = {}
    for type_name, fields in basic_field_plans(schema).items():
        for name, plan in fields.items():
            if isinstance(plan, kind):
                chosen.setdefault(type_name, {})[name] = plan
    return chosen


def leaf_plans(schema: GraphQLSchema) -> dict[str, dict[str, LeafPlan]]:
    """Plans for every basic leaf field of the schema, by type and field name."""
    return _plans_of(schema, LeafPlan)


def object_plans(schema: GraphQLSchema) -> dict[str, dict[str, ObjectPlan]]:
    """Plans for every basic object-valued field, by type and field name."""
    return _plans_of(schema, ObjectPlan)


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
    """Strawberry's execution context with the fast path for plain fields.

    A selection made only of resolver-less fields (leaves, objects, lists of
    objects, ``__typename``) reads nothing but plain attributes: no resolver
    runs, so it can be answered in one pass over the data without a
    ``GraphQLResolveInfo``, a path or an awaitable check per field. Whether a
    selection qualifies is decided before any value is read; if the data then
    holds something unusual (a null in a non-null field, a value the scalar
    refuses), the pass is dropped, nothing having run, and graphql-core's
    normal path answers with its usual located errors.

    ``plans``, ``resolvers`` and ``objects`` are filled for each schema by
    :func:`install_plans`.
    """

    plans: dict[str, dict[str, LeafPlan]] = {}
    resolvers: dict[str, dict[str, FastResolver]] = {}
    objects: dict[str, dict[str, ObjectPlan]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A schema extension with a ``resolve`` hook must see every field:
        # then nothing takes the fast path.
        manager = getattr(self, "middleware_manager", None)
        self._fast = COMPATIBLE and not (manager is not None and manager.middlewares)
        # Per request: whether a collected selection qualifies, by identity
        # (the selection is kept with the answer so its id cannot be reused).
        self._qualifies: dict[int, tuple[Any, bool]] = {}

    def _plain(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> bool:
        """Whether every field selected here (and below) is a plain field."""
        memo = self._qualifies.get(id(grouped_field_set))
        if memo is not None and memo[0] is grouped_field_set:
            return bool(memo[1])
        leaves = self.resolvers.get(parent_type.name, {})
        objects = self.objects.get(parent_type.name, {})
        plain = True
        for field_details_list in grouped_field_set.values():
            name = _field_name(field_details_list)
            if name in leaves or name == "__typename":
                continue
            plan = objects.get(name)
            if plan is None or not self._plain_object(plan, field_details_list):
                plain = False
                break
        self._qualifies[id(grouped_field_set)] = (grouped_field_set, plain)
        return plain

    def _plain_object(self, plan: ObjectPlan, field_details_list: Any) -> bool:
        sub_fields, new_defer_usages = _subfields(self, plan.object_type, field_details_list)
        return not new_defer_usages and self._plain(plan.object_type, sub_fields)

    def _object_value(self, plan: ObjectPlan, source: Any, field_details_list: Any) -> Any:
        value = getattr(source, plan.attribute)
        if value is None:
            return _SLOW if plan.non_null else None
        sub_fields = _subfields(self, plan.object_type, field_details_list)[0]
        if not plan.is_list:
            return self._answer(plan.object_type, value, sub_fields)
        if not isinstance(value, list | tuple):
            return _SLOW
        items: list[Any] = []
        for item in value:
            if item is None:
                if plan.items_non_null:
                    return _SLOW
                items.append(None)
                continue
            answered = self._answer(plan.object_type, item, sub_fields)
            if answered is _SLOW:
                return _SLOW
            items.append(answered)
        return items

    def _answer(self, parent_type: GraphQLObjectType, source: Any, grouped_field_set: Any) -> Any:
        """The result of a plain selection, or _SLOW."""
        leaves = self.resolvers.get(parent_type.name, {})
        objects = self.objects.get(parent_type.name, {})
        results: dict[str, Any] = {}
        for response_name, field_details_list in grouped_field_set.items():
            # _field_name inlined: this loop runs once per field of a page.
            name = field_details_list[0].node.name.value
            resolve = leaves.get(name)
            if resolve is not None:
                value = resolve(source)
            elif name == "__typename":
                value = parent_type.name
            else:
                value = self._object_value(objects[name], source, field_details_list)
            if value is _SLOW:
                return _SLOW
            results[response_name] = value
        return results

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if self._fast:
            # Deciding is inside the try too: an unexpected shape from
            # graphql-core means the normal path, never an error.
            try:
                result = (
                    self._answer(parent_type, source_value, grouped_field_set)
                    if self._plain(parent_type, grouped_field_set)
                    else _SLOW
                )
            except Exception:
                result = _SLOW  # the normal path reports it properly
            if result is not _SLOW:
                return result
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
        # One plain field among others that are not (e.g. `edges` next to a
        # resolved `totalCount`): answer just this one.
        if self._fast:
            result: Any = _SLOW
            try:
                name = _field_name(field_details_list)
                resolve = self.resolvers.get(parent_type.name, {}).get(name)
                if resolve is not None:
                    result = resolve(source)
                else:
                    plan = self.objects.get(parent_type.name, {}).get(name)
                    if plan is not None and self._plain_object(plan, field_details_list):
                        result = self._object_value(plan, source, field_details_list)
            except Exception:
                result = _SLOW
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
        {"plans": {}, "resolvers": {}, "objects": {}},
    )


def install_plans(context_class: type[LeafFastExecutionContext], schema: GraphQLSchema) -> None:
    """Fill ``context_class``'s plans for ``schema``; none (normal path) if that fails."""
    try:
        plans = leaf_plans(schema)
        objects = object_plans(schema)
        resolvers = {
            type_name: {name: plan.resolver() for name, plan in fields.items()}
            for type_name, fields in plans.items()
        }
    except Exception:  # pragma: no cover - depends on the installed libraries
        log.warning("unexpected schema shape; leaf fast path disabled", exc_info=True)
        plans, objects, resolvers = {}, {}, {}
    context_class.plans, context_class.objects = plans, objects
    context_class.resolvers = resolvers
