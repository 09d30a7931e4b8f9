"""What a client selected under the field being resolved (first level only).

Resolvers use it to fetch only what is asked for, e.g. to run a page's count
together with the page when ``totalCount`` is selected. It walks the
operation's AST directly (fields, fragment spreads, inline fragments): far
cheaper than ``Info.selected_fields``, which converts the whole subtree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)
from strawberry.types import Info


def _selects(
    selections: Iterable[SelectionNode],
    name: str,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set.selections, name, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment_name = selection.name.value
            fragment = fragments.get(fragment_name)
            if fragment is not None and fragment_name not in seen:
                seen.add(fragment_name)
                if _selects(fragment.selection_set.selections, name, fragments, seen):
                    return True
    return False


def selects(info: Info, name: str) -> bool:
    """Whether the current field's selection includes the field ``name``.

    Directives (``@skip``/``@include``) are not evaluated: a field they drop
    still counts as selected, which costs at most some unneeded work.
    """
    raw = info._raw_info
    return any(
        node.selection_set is not None
        and _selects(node.selection_set.selections, name, raw.fragments, set())
        for node in raw.field_nodes
    )
