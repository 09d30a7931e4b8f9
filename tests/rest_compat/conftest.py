"""Every response a REST test receives is held against app/static/openapi.json.

The hook wraps ``httpx.AsyncClient.send``, so it covers the shared ``client``
fixture and every client a test builds itself (ASGI or a live server). A
status the document does not list, or a body that does not match its schema,
fails the test that received it: the document cannot drift from what we send.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.utils.openapi import checker


@pytest.fixture(autouse=True)
def responses_match_the_openapi_document(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    send = httpx.AsyncClient.send

    async def checked_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await send(self, request, **kwargs)
        if not kwargs.get("stream"):
            problems = checker().check(response)
            assert not problems, "response does not match the OpenAPI document:\n" + "\n".join(
                problems
            )
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", checked_send)
    yield
