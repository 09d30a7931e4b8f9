"""Error masking, production switches and GraphQL-over-HTTP status codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.settings import Settings
from resolvers.operations import conversations as ops
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, JWT_SECRET, insert_conversation
from tests.utils.graphql import GRAPHQL_RESPONSE, client_for, codes, gql

_ONE = "query($id: String!) { conversation(conversationId: $id) { title } }"


async def test_user_errors_pass_with_their_code(
    client: httpx.AsyncClient, database: Database
) -> None:
    doc = await insert_conversation(database, BOB)
    body = (await gql(client, _ONE, {"id": doc["conversationId"]}, user=ALICE)).json()
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] == "You don't have access to this conversation"


async def test_unauthenticated_data_fields_say_why(client: httpx.AsyncClient) -> None:
    body = (await gql(client, _ONE, {"id": "x"})).json()
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "No auth token"


async def test_unexpected_errors_are_masked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("mongodb://admin:hunter2@db secret detail")

    monkeypatch.setattr(ops, "get_conversation", broken)
    response = await gql(client, _ONE, {"id": "x"}, user=ALICE)
    assert "hunter2" not in response.text
    body = response.json()
    assert body["errors"][0]["message"] == "Internal server error"
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["path"] == ["conversation"]


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ("{ conversation(conversationId: 5) { title } }", None, "String cannot represent"),
        ("{ nope }", None, "Cannot query field 'nope' on type 'Query'"),
        ("{", None, "Syntax Error"),
        (_ONE, {"id": 5}, "Variable '$id' has invalid value: String cannot represent"),
        (_ONE, {}, "Expected a value of non-null type 'String!'"),
    ],
)
async def test_request_errors_pass_unmasked(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, message: str
) -> None:
    # Plain MaskErrors hides these too; they describe the request, not the server.
    body = (await gql(client, query, variables, user=ALICE)).json()
    assert message in body["errors"][0]["message"]


async def test_field_suggestions_show_in_development(client: httpx.AsyncClient) -> None:
    body = (await gql(client, "{ conversationz { edges { cursor } } }")).json()
    assert "Did you mean 'conversation'" in body["errors"][0]["message"]


async def test_production_hides_suggestions_introspection_and_graphiql(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    production = Settings.from_env(
        {
            "CONVOS_ENV": "production",
            "JWT_SECRET": JWT_SECRET,
            "MONGO_URI": mongo_uri,
            "CONVOS_DATA_DIR": str(tmp_path),  # its search index file, not the checkout's
        }
    )
    assert (production.field_suggestions, production.introspection) == (False, False)
    assert production.graphiql is False
    async with client_for(production, database) as client:
        typo = (await gql(client, "{ conversationz { edges { cursor } } }")).json()
        schema = (await gql(client, "{ __schema { types { name } } }")).json()
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assets = await client.get("/graphiql/graphiql.min.js")
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert "introspection" in schema["errors"][0]["message"].lower()
    assert page.status_code == 404
    assert assets.status_code == 404


async def test_production_switches_can_be_turned_back_on(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {
            "CONVOS_ENV": "production",
            "CONVOS_DATA_DIR": str(tmp_path),
            "JWT_SECRET": JWT_SECRET,
            "MONGO_URI": mongo_uri,
            "GRAPHQL_INTROSPECTION": "1",
            "GRAPHQL_FIELD_SUGGESTIONS": "true",
            "GRAPHIQL": "yes",
        }
    )
    async with client_for(settings, database) as client:
        typo = (await gql(client, "{ conversationz { edges { cursor } } }")).json()
        schema = (await gql(client, "{ __schema { queryType { name } } }")).json()
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "Did you mean" in typo["errors"][0]["message"]
    assert schema["data"]["__schema"]["queryType"]["name"] == "Query"
    assert page.status_code == 200


# -- GraphQL over HTTP ---------------------------------------------------------


async def test_graphql_response_json_is_used_when_accepted(client: httpx.AsyncClient) -> None:
    response = await gql(client, "{ __typename }", accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"


async def test_application_json_by_default_and_for_any(client: httpx.AsyncClient) -> None:
    plain = await gql(client, "{ __typename }")
    anything = await gql(client, "{ __typename }", accept="*/*")
    for response in (plain, anything):
        assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_graphiql_fetcher_accept_header_gets_graphql_response_json(
    client: httpx.AsyncClient,
) -> None:
    accept = "application/graphql-response+json, application/json, multipart/mixed"
    response = await gql(client, "{ __typename }", accept=accept)
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


@pytest.mark.parametrize(
    ("query", "variables"),
    [("{", None), ("{ nope }", None), (_ONE, {"id": None})],
    ids=["parse", "validation", "variables"],
)
async def test_request_errors_are_400_without_data_in_graphql_response_json(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None
) -> None:
    strict = await gql(client, query, variables, accept=GRAPHQL_RESPONSE, user=ALICE)
    legacy = await gql(client, query, variables, accept="application/json", user=ALICE)
    assert strict.status_code == 400
    assert "data" not in strict.json() and strict.json()["errors"]
    # application/json keeps 200, as the specification asks of legacy clients.
    assert legacy.status_code == 200
    assert "data" not in legacy.json()


async def test_field_errors_keep_200_and_a_data_entry(client: httpx.AsyncClient) -> None:
    # Execution started, so this is a GraphQL response, not a request error,
    # even though a non-null root field failed and nulled `data`.
    query = '{ tags { tag } conversation(conversationId: "missing") { title } }'
    response = await gql(client, query, accept=GRAPHQL_RESPONSE, user=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["path"] == ["conversation"]


async def test_mutations_over_get_are_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "mutation { deleteAllConversations { deletedCount } }"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"


async def test_subscriptions_over_http_point_to_the_websocket(client: httpx.AsyncClient) -> None:
    response = await gql(client, "subscription { conversationEvents { kind } }", user=ALICE)
    assert response.status_code == 400
    assert "WebSocket (graphql-transport-ws)" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "{ __typename }", "operationName": 5}, "`operationName` must be a string"),
        ({"query": 5}, "`query` must be a string"),
        ({"query": "{ __typename }", "variables": []}, "`variables` must be an object"),
        ({"nothing": 1}, "No GraphQL query found"),
    ],
)
async def test_malformed_requests_are_400_with_json_errors(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/graphql", json=body)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


async def test_unparseable_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Unable to parse request body as JSON",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }


async def test_settings_reject_nonsense_limits(mongo_uri: str) -> None:
    with pytest.raises(ValueError, match="timeouts must be positive"):
        make_settings(mongo_uri, execution_timeout_s=0).check()


async def test_only_server_errors_are_logged(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await gql(client, "{ nope }")
    await gql(client, _ONE, {"id": "missing"}, user=ALICE)
    assert [r for r in caplog.records if r.name == "strawberry.execution"] == []

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(ops, "get_conversation", broken)
    await gql(client, _ONE, {"id": "x"}, user=ALICE)
    logged = [r for r in caplog.records if r.name == "strawberry.execution"]
    assert len(logged) == 1 and "database on fire" in str(logged[0].msg)
