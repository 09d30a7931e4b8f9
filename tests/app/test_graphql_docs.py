"""docs/graphql.md shows every root field, and its examples are valid operations."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import FieldNode, OperationDefinitionNode, parse, validate

from app.graphql.schema import limits_from
from app.graphql_limits import measure_document
from app.settings import Settings
from resolvers.graphql.schema import build_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "graphql.md"
SCHEMA = build_schema()._schema


def _examples() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_example_operation_validates_against_the_schema() -> None:
    examples = _examples()
    assert len(examples) >= 14
    for example in examples:
        assert validate(SCHEMA, parse(example)) == [], example


def test_every_query_mutation_and_subscription_has_an_example() -> None:
    used: set[tuple[str, str]] = set()
    for example in _examples():
        for definition in parse(example).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            root = definition.operation.value.capitalize()
            for selection in definition.selection_set.selections:
                assert isinstance(selection, FieldNode)
                used.add((root, selection.name.value))
    expected = {
        (root.name, field)
        for root in (SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type)
        if root is not None
        for field in root.fields
    }
    assert expected - used == set()


def test_the_documented_cost_example_is_what_the_rule_computes() -> None:
    from graphql import TypeInfo, ValidationContext

    document = parse("{ conversations(first: 5) { edges { node { title messages { text } } } } }")
    context = ValidationContext(SCHEMA, document, TypeInfo(SCHEMA), lambda error: None)
    [(_, measure)] = measure_document(context, limits_from(Settings()))
    assert measure.cost == 10017
    assert "= 10017" in DOC.read_text()
