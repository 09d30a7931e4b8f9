"""What a client selected under the field being resolved.

Resolvers use it to fetch only what is asked for, and all at once: a page's
count together with the page when ``totalCount`` is selected, every
conversation's messages in one go when ``edges.node.messages`` is. It walks
the operation's AST directly (fields, fragment spreads, inline fragments)
along one path: far cheaper than ``Info.selected_fields``, which converts the
whole subtree into objects on every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)
from strawberry.types import Info


def _fields_named(
    selections: Iterable[SelectionNode],
    name: str,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields_named(selection.selection_set.selections, name, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            fragment_name = selection.name.value
            fragment = fragments.get(fragment_name)
            if fragment is not None and fragment_name not in seen:
                seen.add(fragment_name)
                yield from _fields_named(fragment.selection_set.selections, name, fragments, seen)


def selects(info: Info, *path: str) -> bool:
    """Whether the current field's selection reaches ``path`` (field names).

    ``selects(info, "totalCount")``, ``selects(info, "edges", "node", "tags")``.
    Directives (``@skip``/``@include``) are not evaluated: a field they drop
    still counts as selected, which costs at most some unneeded work.
    """
    raw = info._raw_info
    level: list[FieldNode] = list(raw.field_nodes)
    for name in path:
        level = [
            found
            for node in level
            if node.selection_set is not None
            for found in _fields_named(node.selection_set.selections, name, raw.fragments, set())
        ]
        if not level:
            return False
    return True
