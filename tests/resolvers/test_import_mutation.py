"""GraphQL importConversations: the multipart request spec, CSRF protection,
the same operation, limits and refusals as POST /api/convos/import."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from resolvers.importing import iter_import, validate_import
from resolvers.importing import operation as import_ops
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, auth, fingerprint, insert_conversation
from tests.utils.imports import (
    FIXTURES,
    NOW,
    assert_stored_as_parsed,
    open_bytes,
    stored_imports,
)

IMPORT = """mutation Import($file: Upload!) {
  importConversations(file: $file) {
    conversationCount messageCount conversationIds skippedConversationCount skippedFiles
  }
}"""
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    spool = tmp_path / "spool"
    spool.mkdir()
    return make_settings(
        mongo_uri,
        import_user_max=1000,
        import_ip_max=1000,
        import_temp_dir=spool,
        import_max_file_bytes=1024 * 1024,
        # No background titles: stored documents must equal the parser's output.
        title_generation=False,
    )


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_ops, "utcnow", lambda: NOW)


def upload(data: bytes, query: str = IMPORT, paths: list[str] | None = None) -> dict[str, Any]:
    """httpx arguments for a GraphQL multipart request carrying ``data`` as file 0."""
    return {
        "data": {
            "operations": json.dumps({"query": query, "variables": {"file": None}}),
            "map": json.dumps({"0": paths or ["variables.file"]}),
        },
        "files": {"0": ("export.json", data, "application/json")},
    }


async def post(
    client: httpx.AsyncClient, data: bytes, headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    return await client.post(
        "/graphql",
        headers={**auth(ALICE), **PREFLIGHT, **(headers or {})},
        **upload(data, **kwargs),
    )


async def test_an_upload_imports_the_file_and_returns_what_was_written(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    data = (FIXTURES / "chatgpt.json").read_bytes()

    response = await post(client, data)

    assert response.status_code == 200, response.text
    payload = response.json()["data"]["importConversations"]
    stored = await stored_imports(database, ALICE)
    assert payload == {
        "conversationCount": 5,
        "messageCount": 19,
        "conversationIds": [p.conversation["conversationId"] for p in stored],
        "skippedConversationCount": 1,
        "skippedFiles": [],
    }
    assert_stored_as_parsed(stored, list(iter_import(open_bytes(data), ALICE, NOW)), ALICE)
    assert settings.import_temp_dir is not None
    assert list(settings.import_temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    "header", ["Apollo-Require-Preflight", "X-Apollo-Operation-Name", "GraphQL-Preflight"]
)
async def test_any_preflight_header_is_accepted(
    client: httpx.AsyncClient, database: Database, header: str
) -> None:
    response = await client.post(
        "/graphql",
        headers={**auth(ALICE), header: "Import"},
        **upload((FIXTURES / "claude.json").read_bytes()),
    )

    assert response.json()["data"]["importConversations"]["conversationCount"] > 0


async def test_without_a_preflight_header_the_upload_is_refused_unread(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A cross-site HTML form can post multipart/form-data without a CORS
    preflight, with the victim's cookies; it cannot set a custom header."""
    before = await fingerprint(database)

    response = await client.post(
        "/graphql", headers=auth(ALICE), **upload((FIXTURES / "claude.json").read_bytes())
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "Cross-Site Request Forgery" in error["message"]
    assert await fingerprint(database) == before


async def test_an_empty_preflight_header_does_not_count(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await post(client, b"[]", headers={"Apollo-Require-Preflight": " "})

    assert response.status_code == 400
    assert "Cross-Site Request Forgery" in response.json()["errors"][0]["message"]


async def test_without_a_token_an_upload_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", headers=PREFLIGHT, **upload((FIXTURES / "claude.json").read_bytes())
    )

    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert (error["message"], error["extensions"]["code"]) == ("No auth token", "UNAUTHENTICATED")


async def test_a_malformed_file_is_bad_user_input_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, title="Before", tags=["x"])
    before = await fingerprint(database)

    response = await post(client, (FIXTURES / "malformed" / "chatgpt_cycle.json").read_bytes())

    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == 'Conversation 1 ("Loop"): mapping.u.parent forms a cycle'
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await fingerprint(database) == before


async def test_a_file_sent_as_a_json_value_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post(
        "/graphql",
        headers=auth(ALICE),
        json={"query": IMPORT, "variables": {"file": '[{"mapping": {}}]'}},
    )

    (error,) = response.json()["errors"]
    assert error["message"] == "file must be sent as a multipart upload"
    assert await database.conversations.count_documents({}) == 0


class Counter:
    def __init__(self) -> None:
        self.sent = 0


def streamed_upload(counter: Counter, chunks: int) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    boundary = "gql-test-boundary"
    operations = json.dumps({"query": IMPORT, "variables": {"file": None}})

    async def body() -> AsyncIterator[bytes]:
        counter.sent += 1
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            f"{operations}\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.file"]}}'
            f"\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="0"; filename="big.json"\r\n\r\n['
        ).encode()
        for _ in range(chunks):
            counter.sent += 1
            yield b" " * (64 * 1024)
        yield f"]\r\n--{boundary}--\r\n".encode()

    headers = {
        **auth(ALICE),
        **PREFLIGHT,
        "content-type": f"multipart/form-data; boundary={boundary}",
    }
    return headers, body()


async def test_an_upload_over_the_limit_is_413_as_soon_as_it_crosses_it(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    counter = Counter()
    headers, body = streamed_upload(counter, 1_600)  # 100 MiB offered, 1 MiB allowed

    response = await client.post("/graphql", headers=headers, content=body)

    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert error["message"] == "File exceeds the maximum allowed size"
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert counter.sent == 1 + 16
    assert settings.import_temp_dir is not None
    assert list(settings.import_temp_dir.iterdir()) == []


async def test_a_declared_length_over_the_limit_is_413_unread(
    client: httpx.AsyncClient,
) -> None:
    counter = Counter()
    headers, body = streamed_upload(counter, 1_600)

    response = await client.post(
        "/graphql", headers={**headers, "content-length": str(100 * 1024 * 1024)}, content=body
    )

    assert response.status_code == 413
    assert counter.sent == 0


async def test_a_json_request_over_the_body_limit_is_413(client: httpx.AsyncClient) -> None:
    padding = " " * (3 * 1024 * 1024)
    response = await client.post(
        "/graphql",
        headers={**auth(ALICE), "content-type": "application/json"},
        content=f'{{"query": "{{ tags {{ tag }} }}"{padding}}}'.encode(),
    )

    assert response.status_code == 413
    assert response.json() == {"errors": [{"message": "Request body too large"}]}


async def test_a_json_request_under_the_body_limit_still_works(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", headers=auth(ALICE), json={"query": "{ tags { tag } }"}
    )

    assert response.json() == {"data": {"tags": []}}


@pytest.fixture
async def limited_client(mongo_uri: str, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        mongo_uri, import_user_max=2, import_ip_max=100, title_generation=False
    )
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_over_the_budget_an_upload_is_429_before_it_is_read(
    limited_client: httpx.AsyncClient, database: Database
) -> None:
    data = (FIXTURES / "claude.json").read_bytes()
    for _ in range(2):
        assert (await post(limited_client, data)).json()["data"] is not None
    counter = Counter()
    headers, body = streamed_upload(counter, 10)

    response = await limited_client.post("/graphql", headers=headers, content=body)

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 15 * 60
    (error,) = response.json()["errors"]
    assert error["message"] == "Too many conversation import requests. Try again later"
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert counter.sent == 0


async def test_two_imports_in_one_document_spend_two_admissions(
    limited_client: httpx.AsyncClient, database: Database
) -> None:
    """Aliases cannot run several imports for the price of one request."""
    query = """mutation($file: Upload!) {
      a: importConversations(file: $file) { conversationCount }
      b: importConversations(file: $file) { conversationCount }
      c: importConversations(file: $file) { conversationCount }
    }"""

    response = await post(limited_client, (FIXTURES / "claude.json").read_bytes(), query=query)

    body = response.json()
    assert body["data"] is None  # c is refused, and its field is non-null
    (error,) = body["errors"]
    assert (error["path"], error["extensions"]["code"]) == (["c"], "RATE_LIMITED")
    stored = await stored_imports(database, ALICE)
    per_file = validate_import(lambda: (FIXTURES / "claude.json").open("rb")).conversations
    # a and b each imported the file once (titles may since have been generated).
    assert len(stored) == 2 * per_file
