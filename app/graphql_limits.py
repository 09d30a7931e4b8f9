"""Depth, alias and cost limits as one validation rule, fragment-safe.

Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk a fragment
again at every spread, so a chain of fragments that each spread the next twice
(``fragment F1 on Query { ...F2 ...F2 }``) costs 2^n steps to validate: twenty
fragments, a few hundred bytes, take seconds. This rule measures each fragment
once per operation (memoised), counts a fragment's aliases, depth and cost as
often as it is spread (so spreading one aliased fragment many times cannot hide
aliases), and runs in time linear in the document.

Cost estimates how many values a response can hold: every field costs 1, and a
list multiplies the cost of its sub-selection by its size: the ``first``,
``last`` or ``limit`` argument (capped at the largest page a resolver returns),
or, for lists without one, what they can hold: a list of messages counts as
the most messages a conversation may return (``max_messages``, the same bound
the loader enforces), a conversation's tags as the most tags it may carry,
other lists as an estimate. A field that takes a size but returns an object (a
connection) passes the size to its list children (``edges``).
Introspection is exempt from depth and cost (it has its own switch) but may
nest at most three lists.

The rule class is built once from the settings: Strawberry's validation cache
is keyed by the rule classes, so a document is measured once, not per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from resolvers.operations.messages import MAX_PAGE_SIZE
from resolvers.operations.validation import MAX_TAGS_PER_CONVERSATION

SIZE_ARGUMENTS = ("first", "last", "limit")

# Introspection has its own switch and is not costed, but its types are
# cyclic (`fields { type { fields ... } }`). The standard introspection query
# nests at most three lists (types > fields > args); deeper nesting only
# multiplies the response.
MAX_INTROSPECTION_LISTS = 3

# Lists whose size is known better than the generic estimate.
LIST_SIZE_HINTS: Mapping[tuple[str, str], int] = {
    # The children of all messages of a conversation are those same messages
    # again (a tree over one list), so a nested `children` adds no factor.
    ("Message", "children"): 1,
    # Loaded by the names on the conversation, at most this many (types.py).
    ("Conversation", "tags"): MAX_TAGS_PER_CONVERSATION,
}
# Paged fields whose resolver returns more than GRAPHQL_MAX_LIST_SIZE items per
# page: their own maximum caps the size they are costed at (a larger `first`
# is served as this many), so the estimate never falls below what is returned.
PAGE_SIZE_MAXIMUMS: Mapping[tuple[str, str], int] = {
    ("Conversation", "messagesConnection"): MAX_PAGE_SIZE,
}
# Every other list of this type (a conversation's `messages`, a fork's
# payload, ...) holds up to `Limits.max_messages` items.
MESSAGE_TYPE = "Message"


@dataclass(frozen=True)
class Limits:
    """The numbers the rule enforces (see app/settings.py for each default)."""

    max_depth: int
    max_aliases: int
    max_cost: int
    list_size_estimate: int
    max_list_size: int
    max_messages: int = 2000


@dataclass(frozen=True)
class Measure:
    """What one selection set asks for."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0
    introspection_lists: int = 0  # lists nested inside introspection fields


def _named_type(type_: Any) -> tuple[Any, bool]:
    """The innermost named type and whether a list wraps it."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            is_list = True
        type_ = type_.of_type
    return type_, is_list


class _OperationMeasurer:
    """Measures one operation; fragments are measured once per distinct context."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.limits = limits
        self.variable_defaults: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            default = definition.default_value
            if isinstance(default, IntValueNode):
                self.variable_defaults[definition.variable.name.value] = int(default.value)
        self._memo: dict[tuple[str, int | None, bool], Measure] = {}
        self._visiting: set[str] = set()

    # -- sizes ---------------------------------------------------------------
    def _size_argument(
        self, node: FieldNode, definition: GraphQLField | None, largest: int
    ) -> int | None:
        """The page size a field asks for (at most ``largest``), or None if it takes none."""

        def cap(size: int) -> int:
            return max(0, min(size, largest))

        for argument in node.arguments or ():
            if argument.name.value not in SIZE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return cap(int(value.value))
            if isinstance(value, VariableNode):
                # Validation cannot see variable values: the declared default,
                # else the largest page a resolver returns.
                default = self.variable_defaults.get(value.name.value)
                return cap(default) if default is not None else largest
            if isinstance(value, NullValueNode):
                break
        if definition is not None:
            for name in SIZE_ARGUMENTS:
                arg = definition.args.get(name)
                if arg is not None and isinstance(arg.default_value, int):
                    return cap(arg.default_value)
        return None

    def _unpaged_size(self, parent: Any, name: str, item_type: Any) -> int:
        """What a list without a page size can hold."""
        hint = LIST_SIZE_HINTS.get((getattr(parent, "name", ""), name))
        if hint is not None:
            return hint
        if getattr(item_type, "name", None) == MESSAGE_TYPE:
            return self.limits.max_messages
        return self.limits.list_size_estimate

    # -- walking -------------------------------------------------------------
    def _field_definition(self, parent: Any, name: str) -> GraphQLField | None:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            found: GraphQLField | None = parent.fields.get(name)
            return found
        return None

    def selection_set(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        inherited_size: int | None,
        introspection: bool,
    ) -> Measure:
        depth = aliases = cost = lists = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                part = self.field(selection, parent, inherited_size, introspection)
            elif isinstance(selection, InlineFragmentNode):
                condition = parent
                if selection.type_condition is not None:
                    condition = self.schema.get_type(selection.type_condition.name.value)
                part = self.selection_set(
                    selection.selection_set, condition, inherited_size, introspection
                )
            elif isinstance(selection, FragmentSpreadNode):
                part = self.fragment(selection.name.value, inherited_size, introspection)
            else:  # pragma: no cover - graphql-core has no other selection kind
                continue
            depth = max(depth, part.depth)
            aliases += part.aliases
            cost += part.cost
            lists = max(lists, part.introspection_lists)
        return Measure(depth, aliases, cost, lists)

    def fragment(self, name: str, inherited_size: int | None, introspection: bool) -> Measure:
        key = (name, inherited_size, introspection)
        known = self._memo.get(key)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self._visiting:
            # Unknown fragments and cycles are other rules' errors.
            return Measure()
        self._visiting.add(name)
        try:
            condition = self.schema.get_type(definition.type_condition.name.value)
            measure = self.selection_set(
                definition.selection_set, condition, inherited_size, introspection
            )
        finally:
            self._visiting.discard(name)
        self._memo[key] = measure
        return measure

    def field(
        self, node: FieldNode, parent: Any, inherited_size: int | None, introspection: bool
    ) -> Measure:
        name = node.name.value
        aliases = 1 if node.alias is not None else 0
        if name == "__typename":
            return Measure(0, aliases, 0)
        inside_introspection = introspection or name.startswith("__")
        definition = self._field_definition(parent, name)
        field_type, is_list = (
            _named_type(definition.type) if definition is not None else (None, False)
        )
        largest = PAGE_SIZE_MAXIMUMS.get(
            (getattr(parent, "name", ""), name), self.limits.max_list_size
        )
        size = self._size_argument(node, definition, largest)
        child_inherited: int | None = None
        multiplier = 1
        if is_list:
            if size is not None:
                multiplier = size
            elif inherited_size is not None:
                multiplier = inherited_size
            else:
                multiplier = self._unpaged_size(parent, name, field_type)
        elif size is not None:
            child_inherited = size
        if inside_introspection:
            # Introspection counts towards aliases and its own list nesting,
            # not depth or cost (its `ofType` chains are deep by design).
            own_lists = 1 if is_list else 0
            if node.selection_set is None:
                return Measure(0, aliases, 0, own_lists)
            child = self.selection_set(node.selection_set, field_type, None, True)
            return Measure(0, aliases + child.aliases, 0, own_lists + child.introspection_lists)
        if node.selection_set is None:
            return Measure(1, aliases, 1)
        child = self.selection_set(node.selection_set, field_type, child_inherited, False)
        return Measure(
            1 + child.depth,
            aliases + child.aliases,
            1 + multiplier * child.cost,
            child.introspection_lists,
        )


def measure_document(
    context: ValidationContext, limits: Limits
) -> list[tuple[OperationDefinitionNode, Measure]]:
    """Measure every operation of the validated document."""
    document = context.document
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    schema = context.schema
    results: list[tuple[OperationDefinitionNode, Measure]] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        root = schema.get_root_type(definition.operation)
        if root is None:
            continue
        measurer = _OperationMeasurer(schema, fragments, definition, limits)
        measure = measurer.selection_set(definition.selection_set, root, None, False)
        # A root field sits at depth 0, as in Strawberry's QueryDepthLimiter.
        results.append(
            (
                definition,
                Measure(
                    max(0, measure.depth - 1),
                    measure.aliases,
                    measure.cost,
                    measure.introspection_lists,
                ),
            )
        )
    return results


# The largest integer a JSON client reads exactly; counts above it are reported as it.
_JSON_SAFE = 2**53 - 1


def _safe(value: int) -> int:
    return min(value, _JSON_SAFE)


def _name(operation: OperationDefinitionNode) -> str:
    return f"'{operation.name.value}'" if operation.name else "anonymous"


def create_limits_rule(limits: Limits) -> type[ValidationRule]:
    """A validation rule class enforcing ``limits``; create it once per process."""

    class QueryLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for operation, measure in measure_document(context, limits):
                where = _name(operation)
                if measure.depth > limits.max_depth:
                    context.report_error(
                        GraphQLError(
                            f"Operation {where} has depth {measure.depth}, "
                            f"above the limit of {limits.max_depth}.",
                            operation,
                            extensions={
                                "code": "MAX_DEPTH_EXCEEDED",
                                "depth": _safe(measure.depth),
                                "maxDepth": limits.max_depth,
                            },
                        )
                    )
                if measure.aliases > limits.max_aliases:
                    context.report_error(
                        GraphQLError(
                            f"Operation {where} uses {measure.aliases} aliases "
                            f"(fragments counted at each spread), above the limit of "
                            f"{limits.max_aliases}.",
                            operation,
                            extensions={
                                "code": "MAX_ALIASES_EXCEEDED",
                                "aliases": _safe(measure.aliases),
                                "maxAliases": limits.max_aliases,
                            },
                        )
                    )
                if measure.introspection_lists > MAX_INTROSPECTION_LISTS:
                    context.report_error(
                        GraphQLError(
                            f"Operation {where} nests {measure.introspection_lists} lists inside "
                            f"introspection, above the limit of {MAX_INTROSPECTION_LISTS}.",
                            operation,
                            extensions={
                                "code": "MAX_DEPTH_EXCEEDED",
                                "introspectionLists": _safe(measure.introspection_lists),
                            },
                        )
                    )
                if measure.cost > limits.max_cost:
                    context.report_error(
                        GraphQLError(
                            f"Operation {where} has an estimated cost of {measure.cost}, above "
                            f"the limit of {limits.max_cost}. Lists multiply the cost of "
                            f"what they select (a conversation's messages count as "
                            f"{limits.max_messages}): ask for fewer items (first/limit) or "
                            f"fields.",
                            operation,
                            extensions={
                                "code": "MAX_COST_EXCEEDED",
                                "cost": _safe(measure.cost),
                                "maxCost": limits.max_cost,
                            },
                        )
                    )

    return QueryLimitsRule
