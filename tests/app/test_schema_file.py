"""schema.graphql is the SDL printed from the code; it must not drift."""

from __future__ import annotations

from pathlib import Path

from resolvers.graphql.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_checked_in_schema_matches_the_code() -> None:
    printed = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.read_text() == printed, (
        "schema.graphql is out of date: run `make schema` and commit the result"
    )
