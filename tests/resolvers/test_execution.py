"""The leaf fast path answers exactly what graphql-core's normal path answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.graphql import execution
from resolvers.graphql.execution import (
    COMPATIBLE,
    LeafFastExecutionContext,
    execution_context_for,
    install_plans,
    leaf_plans,
    object_plans,
)
from resolvers.graphql.schema import build_schema, config


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Part:
    label: str
    weight: int | None

    @strawberry.field
    def loud(self) -> str:
        return self.label.upper()


@strawberry.type
class Item:
    name: str
    note: str | None
    size: int
    colour: Colour
    labels: list[str]
    maybe_labels: list[str | None] | None
    at: datetime | None
    parts: list[Part] = strawberry.field(default_factory=list)
    main: Part | None = None
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
    parts=[Part(label="p", weight=1), Part(label="q", weight=None)],
    main=Part(label="m", weight=2),
)
# A null deep inside a plain selection: the whole selection goes the normal way.
BROKEN_PART = Item(
    name="d",
    note=None,
    size=4,
    colour=Colour.RED,
    labels=[],
    maybe_labels=None,
    at=None,
    parts=[Part(label=None, weight=1)],  # type: ignore[arg-type]
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
        return [GOOD, NULL_NAME, BAD_SIZE, NULL_LABEL, BROKEN_PART]

    @strawberry.field
    def good(self) -> Item:
        return GOOD


QUERY = """{
  items { name note size colour labels maybeLabels at shout n: name
          parts { label weight __typename } main { label } }
  good { ...F __typename parts { label } main { label loud } }
  plain: good { name parts { label weight } main { label } }
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
    assert COMPATIBLE, (
        "graphql-core changed: the fast path is off (see resolvers/graphql/execution.py)"
    )
    fast = _result(_schema(fast=True))
    normal = _result(_schema(fast=False))
    assert fast == normal
    data, errors = fast
    assert data["good"] == {
        "name": "a",
        "size": 3,
        "labels": ["x", "y"],
        "__typename": "Item",
        "parts": [{"label": "p"}, {"label": "q"}],
        "main": {"label": "m", "loud": "M"},
    }
    assert data["plain"] == {
        "name": "a",
        "parts": [{"label": "p", "weight": 1}, {"label": "q", "weight": None}],
        "main": {"label": "m"},
    }
    assert data["items"][0]["parts"][0] == {"label": "p", "weight": 1, "__typename": "Part"}
    assert data["items"][0]["at"] == "2024-01-15T10:00:00.123Z"
    assert data["items"][0]["maybeLabels"] == [None, "z"]
    # Every broken item is nulled with a located error, as before.
    assert data["items"][1:] == [None, None, None, None]
    assert errors == [
        ("Cannot return null for non-nullable field Item.labels.", ["items", 3, "labels", 1]),
        ("Cannot return null for non-nullable field Item.name.", ["items", 1, "name"]),
        (
            "Cannot return null for non-nullable field Part.label.",
            ["items", 4, "parts", 0, "label"],
        ),
        ("Int cannot represent non-integer value: 'many'", ["items", 2, "size"]),
    ]


def test_plans_cover_plain_leaves_only() -> None:
    schema = _schema(fast=True)
    plans = leaf_plans(schema._schema)["Item"]
    assert set(plans) == {"name", "note", "size", "colour", "labels", "maybeLabels", "at"}
    assert set(object_plans(schema._schema)["Item"]) == {"parts", "main"}
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
    assert data["plain"]["parts"][0]["label"] == "P"
    assert data["items"][0]["colour"] == "BLUE"


def test_the_app_schema_uses_the_fast_context() -> None:
    schema = build_schema()
    assert issubclass(schema.execution_context_class, LeafFastExecutionContext)
    assert issubclass(schema.execution_context_class, StrawberryGraphQLCoreExecutionContext)


def test_plain_selections_skip_graphql_cores_per_field_work(monkeypatch: Any) -> None:
    calls: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, *args: Any) -> Any:
        calls.append(parent_type.name)
        return original(self, parent_type, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    query = "{ good { name __typename parts { label weight } main { label } } }"
    normal = _schema(fast=False).execute_sync(query)
    normal_calls, calls[:] = list(calls), []
    fast = _schema(fast=True).execute_sync(query)
    assert fast.data == normal.data and not fast.errors
    # Only the root field, which has a resolver, goes through graphql-core.
    assert calls == ["Query"]
    assert len(normal_calls) == 1 + 4 + 2 * 2 + 1


def test_fast_path_off_leaves_strawberrys_own_execution() -> None:
    from app.graphql.schema import make_schema
    from app.settings import Settings

    off = make_schema(Settings(graphql_fast_path=False))
    assert not issubclass(off.execution_context_class, LeafFastExecutionContext)
    on = make_schema(Settings())
    assert issubclass(on.execution_context_class, LeafFastExecutionContext)


def _unexpected_shape(*args: Any) -> Any:
    raise AttributeError("'FieldDetails' object has no attribute 'node'")


@pytest.mark.parametrize("reader", ["_field_name", "_subfields"])
def test_an_unexpected_graphql_core_shape_falls_back_to_the_normal_path(
    monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    # What graphql-core hands the fast path (FieldDetails, collect_subfields'
    # triple) changes shape: the query still answers, the normal way.
    normal = _result(_schema(fast=False))
    monkeypatch.setattr(execution, reader, _unexpected_shape)
    assert _result(_schema(fast=True)) == normal
