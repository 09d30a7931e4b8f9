"""The OpenAPI document (app/static/openapi.json) against the app, both ways.

- every route of the Starlette app has a path entry, and every entry a route;
- the file is what tools/build_openapi.py builds, and valid OpenAPI 3.1;
- GET /openapi.json serves it without a token.

Responses are checked against it in tests/rest_compat/conftest.py (every REST
test) and tests/app/test_openapi_fuzz.py (schemathesis).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import schemathesis
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute

from app.openapi import DOCUMENT
from tests.utils.openapi import ResponseChecker

BUILDER = Path(__file__).resolve().parents[2] / "tools" / "build_openapi.py"
# Served but not REST: GraphQL has its own schema (schema.graphql, docs/graphql.md).
NOT_REST = {"/graphql"}
_PARAM = re.compile(r"\{[^}/]+\}")


def _document() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return result


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_openapi", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, a concrete path) for every operation, parameters filled in."""
    return [
        (method.upper(), _PARAM.sub("x1", template))
        for template, item in document["paths"].items()
        for method in item
    ]


def _serves(route: BaseRoute, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    match, _ = route.matches(scope)
    return match is Match.FULL


def _rest_routes(app: Starlette) -> list[tuple[Route, str]]:
    """(route, method) for every HTTP route that is not GraphQL or static files."""
    found: list[tuple[Route, str]] = []
    for route in app.routes:
        if isinstance(route, Mount | WebSocketRoute):
            continue  # GraphiQL's assets; GraphQL over WebSocket
        assert isinstance(route, Route), f"a route of an unknown kind: {route!r}"
        if route.path in NOT_REST:
            continue
        found += [(route, method) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_every_route_of_the_app_has_a_path_entry(app: Starlette) -> None:
    operations = _operations(_document())
    undocumented = [
        f"{method} {route.path}"
        for route, method in _rest_routes(app)
        if not any(m == method and _serves(route, m, path) for m, path in operations)
    ]
    assert undocumented == []


def test_every_path_entry_has_a_route_of_the_app(app: Starlette) -> None:
    routes = _rest_routes(app)
    unserved = [
        f"{method} {path}"
        for method, path in _operations(_document())
        if not any(m == method and _serves(route, m, path) for route, m in routes)
    ]
    assert unserved == []


def test_the_checked_in_file_is_what_the_builder_builds() -> None:
    # Edit tools/build_openapi.py, then run it; never the JSON by hand.
    assert DOCUMENT.read_text(encoding="utf-8") == _builder().render()


def test_the_document_is_valid_openapi_3_1() -> None:
    document = _document()
    assert document["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(document).validate()  # raises on any violation


def test_each_operation_points_at_a_section_of_the_contract() -> None:
    contract = (DOCUMENT.parents[2] / "docs" / "contract.md").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', contract))
    missing = [
        f"{method} {template}: {anchor}"
        for template, item in _document()["paths"].items()
        for method, op in item.items()
        for anchor in re.findall(r"docs/contract\.md#([\w-]+)", op["description"])
        if anchor not in anchors
    ]
    assert missing == []


async def test_openapi_json_is_served_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _document()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (200, "application/json", b'{"title": "Paris"}', ""),
        (418, "application/json", b"{}", "status not in the document"),
        (200, "text/html", b"<p>", "content type"),
        (200, "application/json", b'{"title": 3}', "is not of type"),
        (200, "application/json", b'{"title": "a", "extra": 1}', "Additional properties"),
    ],
)
def test_the_response_checker_refuses_what_the_document_does_not_say(
    status: int, content_type: str, body: bytes, expected: str
) -> None:
    problems = ResponseChecker(_document()).problems(
        "GET", "/api/convos/gen_title/abc", status, content_type, body
    )
    if expected:
        assert len(problems) == 1 and expected in problems[0], problems
    else:
        assert problems == []


def test_the_response_checker_ignores_routes_the_document_does_not_describe() -> None:
    checker = ResponseChecker(_document())
    assert checker.problems("POST", "/graphql", 500, "text/html", b"<p>") == []
    assert checker.problems("DELETE", "/api/convos/abc", 404, "application/json", b"{}") == []


def test_an_encoded_slash_stays_in_its_path_parameter() -> None:
    checker = ResponseChecker(_document())
    found = checker.operation("PUT", "/api/tags/convo%2Fabc")
    assert found is not None and found[0] == "/api/tags/{tag}"
    found = checker.operation("PUT", "/api/tags/convo/abc")
    assert found is not None and found[0] == "/api/tags/convo/{conversationId}"
