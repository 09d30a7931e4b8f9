"""Sending GraphQL requests to the app in tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.main import create_app
from app.settings import Settings
from storage.database import Database
from tests.utils.factories import auth

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def gql(
    client: httpx.AsyncClient,
    query: str | None,
    variables: dict[str, Any] | None = None,
    *,
    user: str | None = None,
    accept: str | None = None,
    extensions: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> httpx.Response:
    """POST one operation to /graphql, as ``user`` when given."""
    headers = auth(user) if user else {}
    if accept:
        headers["Accept"] = accept
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if extensions is not None:
        body["extensions"] = extensions
    if operation_name is not None:
        body["operationName"] = operation_name
    return await client.post("/graphql", json=body, headers=headers)


@contextlib.asynccontextmanager
async def client_for(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an app built from ``settings`` (lifespan entered)."""
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
