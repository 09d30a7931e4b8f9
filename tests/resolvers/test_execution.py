"""The leaf fast path answers exactly what graphql-core's normal path answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.execution import (
    COMPATIBLE,
    LeafFastExecutionContext,
    execution_context_for,
    install_plans,
    leaf_plans,
)
from resolvers.schema import build_schema, config


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    note: str | None
    size: int
    colour: Colour
    labels: list[str]
    maybe_labels: list[str | None] | None
    at: datetime | None
    internal: strawberry.Private[str] = ""

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


GOOD = Item(
    name="a",
    note=None,
    size=3,
    colour=Colour.BLUE,
    labels=["x", "y"],
    maybe_labels=[None, "z"],
    at=datetime(2024, 1, 15, 10, 0, 0, 123000),
)
# Stored data can be wrong: a null in a non-null field, a string in an Int.
NULL_NAME = Item(
    name=None,
    note="n",
    size=1,
    colour=Colour.RED,
    labels=[],
    maybe_labels=None,  # type: ignore[arg-type]
    at=None,
)
BAD_SIZE = Item(
    name="b",
    note=None,
    size="many",
    colour=Colour.RED,
    labels=["q"],  # type: ignore[arg-type]
    maybe_labels=None,
    at=None,
)
NULL_LABEL = Item(
    name="c",
    note=None,
    size=2,
    colour=Colour.RED,
    labels=["ok", None],  # type: ignore[list-item]
    maybe_labels=None,
    at=None,
)


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [GOOD, NULL_NAME, BAD_SIZE, NULL_LABEL]

    @strawberry.field
    def good(self) -> Item:
        return GOOD


QUERY = """{
  items { name note size colour labels maybeLabels at shout n: name }
  good { ...F }
}
fragment F on Item { name size labels }"""


def _schema(fast: bool, extensions: list[Callable[[], SchemaExtension]] | None = None) -> Any:
    if not fast:
        return strawberry.Schema(query=Query, config=config(), extensions=extensions or [])
    context_class = execution_context_for()
    schema = strawberry.Schema(
        query=Query,
        config=config(),
        extensions=extensions or [],
        execution_context_class=context_class,
    )
    install_plans(context_class, schema._schema)
    return schema


def _result(schema: Any) -> tuple[Any, list[tuple[str, list[Any]]]]:
    result = schema.execute_sync(QUERY)
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


def test_fast_path_matches_the_normal_path_including_errors() -> None:
    assert COMPATIBLE, "graphql-core changed: the fast path is off (see resolvers/execution.py)"
    fast = _result(_schema(fast=True))
    normal = _result(_schema(fast=False))
    assert fast == normal
    data, errors = fast
    assert data["good"] == {"name": "a", "size": 3, "labels": ["x", "y"]}
    assert data["items"][0]["at"] == "2024-01-15T10:00:00.123Z"
    assert data["items"][0]["maybeLabels"] == [None, "z"]
    # Every broken item is nulled with a located error, as before.
    assert data["items"][1:] == [None, None, None]
    assert errors == [
        ("Cannot return null for non-nullable field Item.labels.", ["items", 3, "labels", 1]),
        ("Cannot return null for non-nullable field Item.name.", ["items", 1, "name"]),
        ("Int cannot represent non-integer value: 'many'", ["items", 2, "size"]),
    ]


def test_plans_cover_plain_leaves_only() -> None:
    schema = _schema(fast=True)
    plans = leaf_plans(schema._schema)["Item"]
    assert set(plans) == {"name", "note", "size", "colour", "labels", "maybeLabels", "at"}
    app_plans = leaf_plans(build_schema()._schema)
    conversation = app_plans["Conversation"]
    assert {"title", "updatedAt", "tagNames", "isArchived"} <= set(conversation)
    # Fields with a resolver of their own keep the normal path.
    assert not {"preset", "messages", "tags"} & set(conversation)
    assert "cursor" not in app_plans.get("ConversationEdge", {})
    assert "totalCount" not in app_plans.get("ConversationConnection", {})


class Upper(SchemaExtension):
    """A ``resolve`` hook: it must see every field, leaves included."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


def test_an_extension_that_resolves_fields_turns_the_fast_path_off() -> None:
    data, _ = _result(_schema(fast=True, extensions=[Upper]))
    assert data["good"]["name"] == "A"
    assert data["items"][0]["colour"] == "BLUE"


def test_the_app_schema_uses_the_fast_context() -> None:
    schema = build_schema()
    assert issubclass(schema.execution_context_class, LeafFastExecutionContext)
    assert issubclass(schema.execution_context_class, StrawberryGraphQLCoreExecutionContext)
