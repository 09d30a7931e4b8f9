"""GET /api/convos/export and the exportConversations signed link, over real HTTP.

Each format streams as an attachment; the LibreChat zip imports back through
POST /api/convos/import; a selection with another user's id is 403, an
unknown id 404, bad input 400, with no byte of any conversation sent; a
signed link opens without a token, and only unaltered and unexpired.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from resolvers.exporting.links import ExportLinks
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import (
    ALICE,
    BOB,
    JWT_SECRET,
    auth,
    conversation_doc,
    fingerprint,
    insert_conversation,
    insert_thread,
    message_doc,
)
from tests.utils.http import error_codes, gql


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    return make_settings(
        mongo_uri,
        import_temp_dir=tmp_path / "spool",
        title_generation=False,
        export_user_max=100,
        export_ip_max=100,
    )


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    assert settings.import_temp_dir is not None
    settings.import_temp_dir.mkdir()
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        yield application


async def _seed(database: Database) -> list[str]:
    """Alice: "first" (tagged work, a branch at its reply) and "second"; Bob: one."""
    first = await insert_conversation(database, ALICE, title="first", tags=["work"])
    second = await insert_conversation(database, ALICE, title="second")
    thread = await insert_thread(database, ALICE, first["conversationId"], ["hello", "hi there"])
    branch = message_doc(
        ALICE,
        first["conversationId"],
        parent=thread[0]["messageId"],
        text="a later reply",
        isCreatedByUser=False,
        created_at=thread[1]["createdAt"].replace(minute=5),
    )
    await database.messages.insert_one(branch)
    await insert_thread(database, ALICE, second["conversationId"], ["question", "answer"])
    await insert_conversation(database, BOB, title="bob's")
    await database.tags.insert_one({"user": ALICE, "tag": "work", "count": 1, "position": 0})
    return [first["conversationId"], second["conversationId"]]


async def _export(client: httpx.AsyncClient, query: str, user: str = ALICE) -> httpx.Response:
    return await client.get(f"/api/convos/export?{query}", headers=auth(user))


async def test_librechat_export_is_a_zip_that_imports_back(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    r = await _export(client, "format=librechat")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="conversations-')
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    exports = [orjson.loads(archive.read(name)) for name in sorted(archive.namelist())]
    assert sorted(e["conversationId"] for e in exports) == sorted(ids)
    first = next(e for e in exports if e["title"] == "first")
    assert first["options"]["tags"] == ["work"]
    assert len(first["messages"]) == 3

    # Bob imports Alice's file: the same conversations, messages and tags.
    upload = {"file": ("export.zip", r.content, "application/zip")}
    r = await client.post("/api/convos/import", files=upload, headers=auth(BOB))
    assert r.status_code == 201, r.text
    bobs = await database.conversations.find({"user": BOB, "title": {"$ne": "bob's"}}).to_list(None)
    assert sorted((c["title"], c["tags"]) for c in bobs) == [("first", ["work"]), ("second", [])]
    texts = sorted(m["text"] for m in await database.messages.find({"user": BOB}).to_list(None))
    assert texts == ["a later reply", "answer", "hello", "hi there", "question"]


async def test_markdown_export_shows_the_visible_thread_and_notes_the_branch(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    r = await _export(client, f"format=markdown&ids={ids[0]}")
    assert r.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    [name] = archive.namelist()
    assert name == f"first-{ids[0]}.md"
    text = archive.read(name).decode()
    assert text.startswith("# first\n")
    # The latest reply is the visible one; the other branch is noted, not shown.
    assert "a later reply" in text and "hi there" not in text
    assert "Branch 2 of 2" in text
    assert "1 message(s) on other branches are not shown" in text


async def test_jsonl_export_has_one_line_per_conversation_with_role_content_pairs(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    r = await _export(client, "format=jsonl")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["content-disposition"].endswith('.jsonl"')
    records = {rec["title"]: rec for rec in map(orjson.loads, r.content.splitlines())}
    assert set(records) == {"first", "second"}
    assert records["second"]["messages"] == [
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "answer"},
    ]
    assert records["first"]["messages"][-1] == {"role": "assistant", "content": "a later reply"}


async def test_export_filters_select_like_the_list(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    r = await _export(client, "format=jsonl&tags=work")
    assert [orjson.loads(line)["title"] for line in r.content.splitlines()] == ["first"]
    r = await _export(client, "format=jsonl&search=question")
    assert [orjson.loads(line)["title"] for line in r.content.splitlines()] == ["second"]
    r = await _export(client, "format=jsonl&isArchived=true")
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("format=csv", 400),
        ("ids=" + "&ids=".join(f"id{i}" for i in range(1001)), 400),
        ("ids=x&tags=work", 400),
        ("pinned=maybe", 400),
        ("ids=no-such-conversation", 404),
    ],
)
async def test_export_bad_input_is_refused_before_any_byte(
    client: httpx.AsyncClient, database: Database, query: str, status: int
) -> None:
    await _seed(database)
    before = await fingerprint(database)
    r = await _export(client, query)
    assert r.status_code == status
    assert "error" in r.json()
    assert await fingerprint(database) == before


async def test_export_with_another_users_id_is_403_and_sends_nothing_of_theirs(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    r = await _export(client, f"format=jsonl&ids={ids[0]}", user=BOB)
    assert r.status_code == 403
    assert "first" not in r.text and "hello" not in r.text


async def test_export_needs_a_token_or_a_signature(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _seed(database)
    r = await client.get("/api/convos/export?format=jsonl")
    assert r.status_code == 401


EXPORT = """
mutation Export($selection: ConversationSelectionInput!, $format: ExportFormat!) {
  exportConversations(selection: $selection, format: $format) { url expiresAt format }
}
"""


async def _link(client: httpx.AsyncClient, selection: dict[str, object], fmt: str) -> str:
    body = await gql(client, EXPORT, {"selection": selection, "format": fmt}, user=ALICE)
    assert "errors" not in body, body
    url: str = body["data"]["exportConversations"]["url"]
    return url


async def test_signed_link_downloads_the_same_stream_without_a_token(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    url = await _link(client, {"filter": {"search": "50% off & more"}}, "JSONL")
    assert (await client.get(url)).content == b""
    url = await _link(client, {"ids": ids}, "JSONL")
    r = await client.get(url)
    assert r.status_code == 200
    assert (
        r.content
        == (await _export(client, "format=jsonl&" + urlencode({"ids": ids}, doseq=True))).content
    )
    assert ALICE in url


@pytest.mark.parametrize("change", ["format", "user", "ids", "signature"])
async def test_an_altered_signed_link_is_401(
    client: httpx.AsyncClient, database: Database, change: str
) -> None:
    ids = await _seed(database)
    url = await _link(client, {"ids": ids[:1]}, "JSONL")
    parts = urlsplit(url)
    altered = {
        "format": "markdown",
        "user": BOB,
        "ids": ids[1],
        "signature": "0" * 64,
    }[change]
    params = [(k, altered if k == change else v) for k, v in parse_qsl(parts.query)]
    r = await client.get(f"{parts.path}?{urlencode(params)}")
    assert r.status_code == 401


async def test_an_expired_signed_link_is_401(client: httpx.AsyncClient, database: Database) -> None:
    ids = await _seed(database)
    links = ExportLinks(JWT_SECRET, ttl_s=60)
    url, _ = links.sign(ALICE, [("format", "jsonl"), ("ids", ids[0])], now=time.time() - 120)
    assert (await client.get(url)).status_code == 401
    url, _ = links.sign(ALICE, [("format", "jsonl"), ("ids", ids[0])])
    assert (await client.get(url)).status_code == 200


async def test_export_link_mutation_refuses_another_users_selection(
    client: httpx.AsyncClient, database: Database
) -> None:
    ids = await _seed(database)
    body = await gql(client, EXPORT, {"selection": {"ids": ids}, "format": "MARKDOWN"}, user=BOB)
    assert error_codes(body) == ["FORBIDDEN"]


async def test_export_is_rate_limited_per_user(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    await _seed(database)
    app = create_app(make_settings(mongo_uri, export_user_max=1), database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await _export(client, "format=jsonl")).status_code == 200
            r = await _export(client, "format=jsonl")
            assert r.status_code == 429
            assert r.json() == {"message": "Too many conversation export requests. Try again later"}
            assert int(r.headers["retry-after"]) > 0


async def test_export_link_mutation_refuses_a_selection_too_long_for_a_link(
    client: httpx.AsyncClient, database: Database
) -> None:
    docs = [conversation_doc(ALICE) for _ in range(300)]
    await database.conversations.insert_many(docs)
    ids = [d["conversationId"] for d in docs]
    body = await gql(client, EXPORT, {"selection": {"ids": ids}, "format": "JSONL"}, user=ALICE)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "too long for a link" in body["errors"][0]["message"]
    body = await gql(
        client, EXPORT, {"selection": {"ids": ids[:100]}, "format": "JSONL"}, user=ALICE
    )
    assert "errors" not in body


async def test_signed_link_keeps_the_selections_date_filters(
    client: httpx.AsyncClient, database: Database
) -> None:
    await insert_conversation(database, ALICE, title="old", createdAt=datetime(2020, 1, 1))
    await insert_conversation(database, ALICE, title="new", createdAt=datetime(2026, 1, 1))
    url = await _link(client, {"filter": {"createdAfter": "2025-01-01T00:00:00Z"}}, "JSONL")
    r = await client.get(url)
    assert r.status_code == 200, r.text
    titles = [orjson.loads(line)["title"] for line in r.content.splitlines()]
    assert titles == ["new"]
