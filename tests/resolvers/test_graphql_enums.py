"""The GraphQL enums that mirror a list kept below them stay equal to it.

Each is written twice on purpose (a Strawberry enum must be a class mypy can
see; the operations and storage keep plain strings), so these tests catch a
value added on one side only.
"""

from __future__ import annotations

from resolvers.graphql.subscriptions import ConversationEventKind
from resolvers.graphql.types import ConversationSort
from resolvers.operations.events import EVENT_KINDS
from storage.conversations import SORT_KEYS


def test_event_kind_enum_lists_exactly_the_kinds_operations_publish() -> None:
    assert {kind.value for kind in ConversationEventKind} == EVENT_KINDS


def test_sort_enum_lists_exactly_the_keys_storage_sorts_by() -> None:
    assert [sort.value for sort in ConversationSort] == list(SORT_KEYS)
