"""HTTP helpers for tests: GraphQL calls and a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from storage.embedded import free_port
from tests.utils.factories import auth


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    user: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL operation; return the decoded response body (status 200 asserted)."""
    sent = dict(headers or {})
    if user is not None:
        sent.update(auth(user))
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await client.post("/graphql", json=payload, headers=sent)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    """The ``extensions.code`` of every error of a GraphQL response."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


@contextlib.asynccontextmanager
async def live_server(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with a real uvicorn in the test's event loop; yield its base URL.

    The app's lifespan is left to the caller (the ``app`` fixture enters it).
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # Signal handlers belong to the test runner, not to this server.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # surfaces the start-up error
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
