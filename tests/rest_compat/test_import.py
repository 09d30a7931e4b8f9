"""POST /api/convos/import: every format stored message by message, zips, whole
file or nothing, 413 as soon as the limit is crossed, tags, rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import select
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from bench.gen_chatgpt_export import conversation as chatgpt_conversation
from resolvers.importing import iter_import
from resolvers.importing import operation as import_ops
from resolvers.operations.events import ConversationEvent
from storage.database import Database
from storage.embedded import free_port
from tests.conftest import make_settings
from tests.utils.factories import (
    ALICE,
    BOB,
    JWT_SECRET,
    auth,
    fingerprint,
    insert_conversation,
    insert_thread,
    token,
)
from tests.utils.graphql import gql
from tests.utils.imports import (
    FIXTURES,
    NOW,
    assert_stored_as_parsed,
    open_bytes,
    roots,
    stored_imports,
    thread,
)

IMPORTED = {"message": "Conversation(s) imported successfully"}
TOO_LARGE = {"message": "File exceeds the maximum allowed size"}
IMPORT_LIMITED = {"message": "Too many conversation import requests. Try again later"}
FORMATS = ["chatgpt.json", "claude.json", "librechat_tree.json", "librechat_flat.json",
           "chatbot_ui.json", "chatgpt_dangling_parent.json"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
MALFORMED = sorted(p.name for p in (FIXTURES / "malformed").iterdir())


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[ConversationEvent] = []

    async def publish(self, event: ConversationEvent) -> None:
        self.events.append(event)


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    # No background titles: stored documents must equal the parser's output
    # (titles after an import are tested in test_gen_title.py).
    return make_settings(
        mongo_uri,
        import_user_max=1000,
        import_ip_max=1000,
        import_temp_dir=tmp_path / "spool",
        title_generation=False,
    )


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    assert settings.import_temp_dir is not None
    settings.import_temp_dir.mkdir()
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import time dates what an export leaves undated; fixed, so the
    stored documents compare with the parser's output for the same time."""
    monkeypatch.setattr(import_ops, "utcnow", lambda: NOW)


@pytest.fixture
async def existing(database: Database) -> None:
    """Data already there, which no import may change: ALICE's and BOB's."""
    for user in (ALICE, BOB):
        conversation = await insert_conversation(database, user, title="Before", tags=["travel"])
        await insert_thread(database, user, conversation["conversationId"], ["q", "a"])
        await database.tags.insert_one(
            {
                "tag": "travel",
                "user": user,
                "count": 1,
                "position": 0,
                "createdAt": NOW,
                "updatedAt": NOW,
            }
        )


async def post_import(
    client: httpx.AsyncClient,
    data: bytes,
    *,
    user: str = ALICE,
    name: str = "export.json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/api/convos/import",
        files={"file": (name, data, "application/json")},
        headers={**auth(user), **(headers or {})},
    )


def expected(data: bytes, user: str = ALICE) -> list[Any]:
    return list(iter_import(open_bytes(data), user, NOW))


async def stored_new(database: Database, user: str = ALICE) -> list[Any]:
    """The user's conversations minus the one the `existing` fixture made."""
    return [p for p in await stored_imports(database, user) if p.conversation["title"] != "Before"]


def assert_spool_empty(settings: Settings) -> None:
    assert settings.import_temp_dir is not None
    assert list(settings.import_temp_dir.iterdir()) == []


# --- every format, stored message by message ----------------------------------


@pytest.mark.parametrize("name", FORMATS)
async def test_each_format_is_stored_message_by_message(
    client: httpx.AsyncClient, database: Database, settings: Settings, name: str
) -> None:
    data = (FIXTURES / name).read_bytes()

    response = await post_import(client, data, name=name)

    assert (response.status_code, response.json()) == (201, IMPORTED)
    assert_stored_as_parsed(await stored_imports(database, ALICE), expected(data), ALICE)
    assert_spool_empty(settings)


async def test_a_chatgpt_tree_keeps_its_branches_and_drops_system_nodes(
    client: httpx.AsyncClient, database: Database
) -> None:
    await post_import(client, (FIXTURES / "chatgpt.json").read_bytes())

    stored = {p.conversation["title"]: p for p in await stored_imports(database, ALICE)}
    # "Empty chat" holds only a system prompt: skipped.
    assert list(stored) == [
        "Pasta al dente",
        "Fibonacci in Python",
        "Weather in Paris",
        "What breed is this cat?",
        "Haiku",
    ]
    pasta = stored["Pasta al dente"]
    assert roots(pasta) == ["How do I cook pasta?", "How do I cook pasta al dente?"]
    assert thread(pasta, "About 10 g") == [
        ("user", "How do I cook pasta al dente?"),
        ("GPT-4o", "Cook it one or two minutes less than the packet says, then taste."),
        ("user", "And how much salt?"),
        ("GPT-4o", "About 10 g per litre of water."),
    ]
    assert pasta.conversation["model"] == "gpt-4o"
    assert pasta.conversation["endpoint"] == "openAI"
    assert thread(stored["Fibonacci in Python"], "The 10th")[2] == (
        "GPT-4",
        "Execution Output:\n> 55",
    )


async def test_a_librechat_export_keeps_title_timestamps_model_and_preset(
    client: httpx.AsyncClient, database: Database
) -> None:
    data = (FIXTURES / "librechat_tree.json").read_bytes()
    source = json.loads(data)

    await post_import(client, data)

    (lisbon,) = await stored_imports(database, ALICE)
    assert lisbon.conversation["title"] == source["title"]
    assert lisbon.conversation["model"] == source["options"]["model"]
    assert lisbon.conversation["temperature"] == source["options"]["temperature"]
    assert lisbon.conversation["conversationId"] != source["conversationId"]
    assert lisbon.conversation["user"] == ALICE


async def test_a_zip_of_a_split_chatgpt_export_imports_every_part(
    client: httpx.AsyncClient, database: Database
) -> None:
    split = FIXTURES / "chatgpt_split"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(split.iterdir()):
            archive.writestr(f"export/{member.name}", member.read_bytes())
    data = buffer.getvalue()

    response = await post_import(client, data, name="export.zip")

    assert (response.status_code, response.json()) == (201, IMPORTED)
    stored = await stored_imports(database, ALICE)
    assert [p.conversation["title"] for p in stored] == [
        "Split part one, first",
        "Split part one, second",
        "Split part two",
    ]
    assert_stored_as_parsed(stored, expected(data), ALICE)


async def test_an_import_publishes_one_event_with_the_new_ids(
    app: Starlette, client: httpx.AsyncClient, database: Database
) -> None:
    events = RecordingEvents()
    app.state.services.events = events

    await post_import(client, (FIXTURES / "claude.json").read_bytes())

    ids = tuple(p.conversation["conversationId"] for p in await stored_imports(database, ALICE))
    assert events.events == [ConversationEvent("imported", ALICE, ids)]


# --- tags ------------------------------------------------------------------------


async def test_tags_are_kept_created_at_the_end_and_counted(
    client: httpx.AsyncClient, database: Database, existing: None
) -> None:
    # librechat_tree.json carries ["travel", "portugal", "travel"].
    await post_import(client, (FIXTURES / "librechat_tree.json").read_bytes())
    await post_import(client, (FIXTURES / "librechat_tree.json").read_bytes())

    tags = await database.tags.find({"user": ALICE}, sort=[("position", 1)]).to_list(None)
    assert [(t["tag"], t["count"], t["position"]) for t in tags] == [
        ("travel", 3, 0),
        ("portugal", 2, 1),
    ]
    # BOB's tag of the same name is his own.
    bob = await database.tags.find_one({"user": BOB, "tag": "travel"})
    assert bob is not None and bob["count"] == 1


# --- whole file or nothing ---------------------------------------------------------


@pytest.mark.parametrize("name", MALFORMED)
async def test_a_malformed_file_is_400_and_changes_nothing(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    existing: None,
    name: str,
) -> None:
    before = await fingerprint(database)

    response = await post_import(client, (FIXTURES / "malformed" / name).read_bytes())

    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert await fingerprint(database) == before
    assert_spool_empty(settings)


async def test_a_date_at_the_end_of_the_calendar_is_400_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, existing: None
) -> None:
    # Its untimed reply would be placed 1 ms later, past the last datetime:
    # an OverflowError and a 500 before dates were bounded.
    last = "9999-12-31T23:59:59.999Z"
    data = {
        "conversationId": "c",
        "title": "Far",
        "messages": [
            {"messageId": "a", "text": "a", "createdAt": last},
            {"messageId": "b", "parentMessageId": "a", "text": "b"},
        ],
    }
    before = await fingerprint(database)

    response = await post_import(client, json.dumps(data).encode())

    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": 'Conversation 1 ("Far"): messages[0].createdAt must be an ISO 8601 date '
        "before the year 9999"
    }
    assert await fingerprint(database) == before


def _with_bad_conversation(position: int) -> bytes:
    """The ChatGPT fixture with a broken conversation slipped in among the good ones."""
    conversations = json.loads((FIXTURES / "chatgpt.json").read_bytes())
    bad = json.loads(json.dumps(conversations[0]))
    bad["title"] = "Broken"
    bad["mapping"]["u1"]["message"]["content"] = "not an object"
    conversations.insert(position - 1, bad)
    return json.dumps(conversations).encode()


async def test_one_bad_conversation_among_good_ones_is_400_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, existing: None
) -> None:
    before = await fingerprint(database)

    response = await post_import(client, _with_bad_conversation(4))

    assert response.status_code == 400
    message = response.json()["error"]
    assert message == 'Conversation 4 ("Broken"): mapping.u1.message.content must be an object'
    assert await fingerprint(database) == before


async def test_a_write_failing_half_way_deletes_what_the_import_wrote(
    app: Starlette, client: httpx.AsyncClient, database: Database, existing: None
) -> None:
    """The second batch holds a message over MongoDB's 16 MB document limit:
    the database refuses it after the first batch (1,000 messages) is stored."""
    events = RecordingEvents()
    app.state.services.events = events
    first = chatgpt_conversation(0, 1_000, random.Random(1))
    huge = chatgpt_conversation(1, 2, random.Random(2))
    node = next(n for n in huge["mapping"].values() if n.get("message"))
    node["message"]["content"]["parts"] = ["x" * (17 * 1024 * 1024)]
    data = json.dumps([first, huge]).encode()
    before = await fingerprint(database)

    response = await post_import(client, data)

    assert (response.status_code, response.json()) == (
        413,
        {"message": "A message or conversation exceeds MongoDB's 16 MB document limit"},
    )
    assert await fingerprint(database) == before
    assert events.events == []


# --- the upload itself ---------------------------------------------------------------


async def test_no_file_field_is_400(client: httpx.AsyncClient, database: Database) -> None:
    response = await client.post(
        "/api/convos/import",
        data={"other": "1"},
        files={"x": ("x.txt", b"1")},
        headers=auth(ALICE),
    )
    assert (response.status_code, response.json()) == (400, {"error": "file is required"})

    response = await client.post("/api/convos/import", json={"file": "{}"}, headers=auth(ALICE))
    assert (response.status_code, response.json()) == (400, {"error": "file is required"})


async def test_two_files_are_400(client: httpx.AsyncClient, database: Database) -> None:
    data = (FIXTURES / "claude.json").read_bytes()
    response = await client.post(
        "/api/convos/import",
        files=[("file", ("a.json", data)), ("file", ("b.json", data))],
        headers=auth(ALICE),
    )

    assert (response.status_code, response.json()) == (400, {"error": "Only one file per request"})
    assert await database.conversations.count_documents({}) == 0


async def test_without_a_token_is_401_and_the_body_is_not_read(
    client: httpx.AsyncClient,
) -> None:
    counter = ChunkCounter()
    response = await client.post(
        "/api/convos/import", content=counter.body(1_000), headers=multipart_headers()
    )

    assert (response.status_code, response.json()) == (401, {"message": "No auth token"})
    assert counter.sent == 0


BOUNDARY = "convos-test-boundary"


def multipart_headers(user: str | None = None) -> dict[str, str]:
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    return {**headers, **auth(user)} if user else headers


class ChunkCounter:
    """A multipart upload of a file of ``chunks`` x 64 KiB, counting what was sent."""

    CHUNK = b"[" + b" " * (64 * 1024 - 1)

    def __init__(self) -> None:
        self.sent = 0

    async def body(self, chunks: int) -> AsyncIterator[bytes]:
        self.sent += 1
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.json"\r\nContent-Type: application/json\r\n\r\n'
        ).encode()
        for _ in range(chunks):
            self.sent += 1
            yield self.CHUNK
        self.sent += 1
        yield f"]\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def small_limit(mongo_uri: str, tmp_path: Path) -> Settings:
    spool = tmp_path / "small-spool"
    spool.mkdir()
    return make_settings(
        mongo_uri,
        import_max_file_bytes=1024 * 1024,
        import_temp_dir=spool,
        title_generation=False,
    )


@pytest.fixture
async def small_client(
    small_limit: Settings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(small_limit, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_an_oversized_file_is_413_as_soon_as_it_crosses_the_limit(
    small_client: httpx.AsyncClient, small_limit: Settings, database: Database
) -> None:
    counter = ChunkCounter()
    # 1,600 x 64 KiB = 100 MiB offered, against a 1 MiB limit, streamed
    # without a Content-Length.
    response = await small_client.post(
        "/api/convos/import", content=counter.body(1_600), headers=multipart_headers(ALICE)
    )

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    # The headers, then 16 chunks fill the 1 MiB; the 17th crosses it. Nothing more is read.
    assert counter.sent == 1 + 17
    assert await database.conversations.count_documents({}) == 0
    assert_spool_empty(small_limit)


async def test_a_declared_length_over_the_limit_is_413_before_reading(
    small_client: httpx.AsyncClient,
) -> None:
    counter = ChunkCounter()
    headers = {**multipart_headers(ALICE), "content-length": str(100 * 1024 * 1024)}

    response = await small_client.post(
        "/api/convos/import", content=counter.body(1_600), headers=headers
    )

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert counter.sent == 0


async def test_a_file_just_under_the_limit_is_read_whole(
    small_client: httpx.AsyncClient, database: Database
) -> None:
    # Valid JSON but no export: it was read to the end, then refused for its shape.
    counter = ChunkCounter()
    response = await small_client.post(
        "/api/convos/import", content=counter.body(15), headers=multipart_headers(ALICE)
    )

    assert response.status_code == 400
    assert counter.sent == 1 + 15 + 1


async def test_a_json_body_over_3_mb_elsewhere_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/convos/update",
        content=b'{"arg": {"title": "' + b"x" * (3 * 1024 * 1024) + b'"}}',
        headers={**auth(ALICE), "content-type": "application/json"},
    )

    assert (response.status_code, response.json()) == (413, {"message": "Request body too large"})


# --- rate limits -------------------------------------------------------------------------


GQL_IMPORT = "mutation($file: Upload!) { importConversations(file: $file) { conversationCount } }"


def graphql_upload(data: bytes) -> dict[str, Any]:
    """httpx arguments of a GraphQL multipart request importing ``data``."""
    return {
        "data": {
            "operations": json.dumps({"query": GQL_IMPORT, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": ("export.json", data, "application/json")},
    }


async def test_rest_and_graphql_share_the_user_import_budget(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(
        mongo_uri, import_user_max=2, import_ip_max=100, title_generation=False
    )
    data = (FIXTURES / "claude.json").read_bytes()
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await post_import(client, data)).status_code == 201
            graphql = await client.post(
                "/graphql",
                headers={**auth(ALICE), "Apollo-Require-Preflight": "1"},
                **graphql_upload(data),
            )
            assert graphql.json()["data"]["importConversations"]["conversationCount"] > 0
            before = await fingerprint(database)

            counter = ChunkCounter()
            refused = await client.post(
                "/api/convos/import", content=counter.body(10), headers=multipart_headers(ALICE)
            )
            assert (refused.status_code, refused.json()) == (429, IMPORT_LIMITED)
            assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
            # Refused before the upload was read.
            assert counter.sent == 0

            refused = await client.post(
                "/graphql",
                headers={**auth(ALICE), "Apollo-Require-Preflight": "1"},
                **graphql_upload(data),
            )
            assert refused.status_code == 429
            (error,) = refused.json()["errors"]
            assert error["message"] == IMPORT_LIMITED["message"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert await fingerprint(database) == before

            # BOB has his own budget.
            assert (await post_import(client, data, user=BOB)).status_code == 201


async def test_the_ip_budget_counts_every_user_of_the_address(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(
        mongo_uri, import_user_max=100, import_ip_max=2, title_generation=False
    )
    data = (FIXTURES / "claude.json").read_bytes()
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("192.0.2.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await post_import(client, data, user=ALICE)).status_code == 201
            assert (await post_import(client, data, user=BOB)).status_code == 201
            refused = await post_import(client, data, user="6b0a7813319bf155c7d4835c")
            assert (refused.status_code, refused.json()) == (429, IMPORT_LIMITED)


# --- under a real server -------------------------------------------------------------


@pytest.fixture
def served(mongo_uri: str, db_name: str, tmp_path: Path) -> Iterator[int]:
    """The gateway under uvicorn (``convos-gateway serve``), with a 1 MiB import limit."""
    port = free_port()
    env = {
        **os.environ,
        "MONGO_URI": mongo_uri,
        "MONGO_DB_NAME": db_name,
        "PORT": str(port),
        "JWT_SECRET": JWT_SECRET,
        "CONVOS_ENV": "test",
        "CONVOS_DATA_DIR": str(tmp_path),
        "CONVERSATION_IMPORT_MAX_FILE_SIZE_BYTES": str(1024 * 1024),
        "LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_under_uvicorn_the_413_arrives_while_the_client_is_still_sending(served: int) -> None:
    """A client that reads while it sends (curl does) sees the 413 early and
    stops: of 200 MiB offered, a few MiB at most leave it (socket buffers)."""
    headers = (
        f"POST /api/convos/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token(ALICE)}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    preamble = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.json"\r\n\r\n['
    ).encode()
    block = b" " * (64 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", served), timeout=30) as sock:
        sock.sendall(headers + b"%x\r\n%s\r\n" % (len(preamble), preamble))
        while sent < 200 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0.001)
            if readable:
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sent += len(block)
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk

    status, _, rest = response.partition(b"\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert rest.endswith(json.dumps(TOO_LARGE, separators=(",", ":")).encode())
    assert 1024 * 1024 <= sent <= 32 * 1024 * 1024


# --- a crash mid-import --------------------------------------------------------------

# Imports a file as the CLI would, and dies by SIGKILL (no undo, no finally)
# right after the first batch is stored: a crash at a deterministic point.
_KILLED_MID_IMPORT = """
import asyncio, os, signal, sys
from resolvers.importing.operation import ImportAdmission, import_conversations
from resolvers.adapters.services import Services
from storage.database import connect

async def main(uri: str, db_name: str, path: str, user: str) -> None:
    database = connect(uri, db_name=db_name, timeout_ms=5000)
    await import_conversations(
        Services(database=database),
        ImportAdmission.unmetered(user),
        lambda: open(path, "rb"),
        on_progress=lambda progress: os.kill(os.getpid(), signal.SIGKILL),
        batch_messages=1,
    )

asyncio.run(main(*sys.argv[1:]))
"""


def _export_with_tags(tmp_path: Path) -> Path:
    """A zip: a tagged LibreChat conversation (the first batch), then ChatGPT ones."""
    rng = random.Random(3)
    chatgpt = [chatgpt_conversation(i, 2, rng) for i in range(3)]
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", (FIXTURES / "librechat_tree.json").read_bytes())
        archive.writestr("b.json", json.dumps(chatgpt))
    return path


async def test_an_import_killed_mid_way_shows_nothing_and_a_retry_gives_one_copy(
    app: Starlette,
    client: httpx.AsyncClient,
    database: Database,
    mongo_uri: str,
    db_name: str,
    existing: None,
    tmp_path: Path,
) -> None:
    path = _export_with_tags(tmp_path)

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_IMPORT, mongo_uri, db_name, str(path), ALICE],
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    assert killed.returncode == -9
    # The first batch was stored: "Lisbon trip", tagged travel and portugal.
    left = await database.conversations.find({"user": ALICE, "title": "Lisbon trip"}).to_list(None)
    assert len(left) == 1
    leftover = left[0]["conversationId"]
    # Nothing of it over REST: list, search, get, tags, nor their counts.
    listed = (await client.get("/api/convos", headers=auth(ALICE))).json()
    assert [c["title"] for c in listed["conversations"]] == ["Before"]
    searched = await client.get("/api/convos?search=Lisbon", headers=auth(ALICE))
    assert searched.json()["conversations"] == []
    got = await client.get(f"/api/convos/{leftover}", headers=auth(ALICE))
    assert got.status_code == 404
    # A recount of "travel" (tagging another conversation) does not count it.
    before_id = listed["conversations"][0]["conversationId"]
    retag = await client.put(
        f"/api/tags/convo/{before_id}", json={"tags": ["travel"]}, headers=auth(ALICE)
    )
    assert retag.status_code == 200
    tags = (await client.get("/api/tags", headers=auth(ALICE))).json()
    assert [(t["tag"], t["count"]) for t in tags] == [("travel", 1)]
    # Nor over GraphQL.
    one = "query($id: String!) { conversation(conversationId: $id) { title } }"
    answer = (await gql(client, one, {"id": leftover}, user=ALICE)).json()
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    page = '{ conversations(first: 10, search: "Lisbon") { totalCount } }'
    answer = (await gql(client, page, user=ALICE)).json()
    assert answer["data"]["conversations"]["totalCount"] == 0

    assert await database.messages.count_documents({"_importId": {"$exists": True}}) > 0

    # A retry imports one complete copy, next to the hidden leftovers.
    assert (await post_import(client, path.read_bytes(), name="export.zip")).status_code == 201
    titles = [
        c["title"]
        for c in (await client.get("/api/convos?limit=50", headers=auth(ALICE))).json()[
            "conversations"
        ]
    ]
    assert len(titles) == 1 + 4 and titles.count("Lisbon trip") == 1

    # The sweep deletes exactly the leftovers.
    swept = await import_ops.sweep_abandoned_imports(app.state.services, older_than=timedelta(0))
    assert swept[0] == 1
    assert await database.conversations.count_documents({"_importId": {"$exists": True}}) == 0
    assert await database.messages.count_documents({"_importId": {"$exists": True}}) == 0
    assert await database.conversations.count_documents({"user": ALICE}) == 1 + 4


async def test_the_app_sweeps_imports_abandoned_before_it_started(
    mongo_uri: str, database: Database, tmp_path: Path
) -> None:
    abandoned = ObjectId.from_datetime(datetime.now(UTC) - timedelta(hours=2))
    recent = ObjectId()  # may be running in another replica: kept
    for import_id in (abandoned, recent):
        await database.conversations.insert_one(
            {"conversationId": str(import_id), "user": ALICE, "_importId": import_id}
        )
        await database.messages.insert_one(
            {"messageId": str(import_id), "user": ALICE, "_importId": import_id}
        )
    application = create_app(make_settings(mongo_uri), database=database)

    async with application.router.lifespan_context(application):
        # The sweep runs in the background: wait for its effect (the guard
        # only bounds a broken sweep).
        for _ in range(600):
            if await database.conversations.count_documents({"_importId": abandoned}) == 0:
                break
            await asyncio.sleep(0.05)

    for collection in (database.conversations, database.messages):
        assert [d["_importId"] for d in await collection.find().to_list(None)] == [recent]
