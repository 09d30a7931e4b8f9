"""schemathesis over app/static/openapi.json against the ASGI app, with a valid token.

Generated requests (valid and invalid) must never get a 5xx, and every
answer must be one the document lists, in its content type and schema. The
bounded run is part of `make test`; `--run-slow` (`make test-slow`) runs many
more examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from pymongo import MongoClient
from schemathesis import checks
from starlette.applications import Starlette

from app.main import create_app
from app.openapi import DOCUMENT
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, conversation_doc, message_doc

# The ids the document's examples name (tools/build_openapi.py).
EXAMPLE_CONVERSATION_ID = "8e601492-6eea-4c61-8a65-2efd1342a3ff"
EXAMPLE_TAG = "work"

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def _seed(mongo_uri: str, db_name: str) -> None:
    """A conversation with a message and a tag, at the ids the examples name."""
    with MongoClient(mongo_uri) as client:
        db = client[db_name]
        db.conversations.insert_one(
            conversation_doc(ALICE, conversationId=EXAMPLE_CONVERSATION_ID, tags=[EXAMPLE_TAG])
        )
        db.messages.insert_one(message_doc(ALICE, EXAMPLE_CONVERSATION_ID, text="hello"))
        db.conversationtags.insert_one(
            {"tag": EXAMPLE_TAG, "user": ALICE, "count": 1, "position": 0, "description": None}
        )


@pytest.fixture
def fuzzed_app(mongo_uri: str, db_name: str) -> Iterator[Starlette]:
    """The app on its own database; schemathesis runs it (and its lifespan) in its loop."""
    _seed(mongo_uri, db_name)
    settings = make_settings(mongo_uri, mongo_db_name=db_name, title_generation=False)
    # The app connects lazily, inside schemathesis' event loop.
    yield create_app(settings)
    with MongoClient(mongo_uri) as client:
        client.drop_database(db_name)


# From the file (schemathesis' fixture-based loader does not run on pytest 9);
# tests/app/test_openapi.py proves GET /openapi.json serves this very file.
schema = schemathesis.openapi.from_path(DOCUMENT)


@schema.parametrize()
@hypothesis.settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_generated_requests_get_documented_answers_and_no_5xx(
    case: Any, fuzzed_app: Starlette
) -> None:
    case.call_and_validate(app=fuzzed_app, headers=auth(ALICE), checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    max_examples=200, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_many_generated_requests_get_documented_answers_and_no_5xx(
    case: Any, fuzzed_app: Starlette, run_slow: bool
) -> None:
    if not run_slow:
        pytest.skip("the long schemathesis run needs --run-slow (make test-slow)")
    case.call_and_validate(app=fuzzed_app, headers=auth(ALICE), checks=CHECKS)
