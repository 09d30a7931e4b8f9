"""``convos-gateway doctor`` on the embedded database seeded in LibreChat's shape."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from storage.database import Database
from storage.indexes import CONVERSATION_INDEXES, MESSAGE_INDEXES, TAG_INDEXES
from tests.utils.factories import ALICE, BOB, fingerprint, insert_conversation, insert_thread

ROOT = Path(__file__).resolve().parents[2]
# The list-page index LibreChat lacks; dropped to play "an existing LibreChat database".
LIST_INDEX = "user_1_updatedAt_-1__id_-1"
# Every index the gateway creates, as doctor counts them.
NEEDED = len(CONVERSATION_INDEXES) + len(MESSAGE_INDEXES) + len(TAG_INDEXES)


async def _doctor(mongo_uri: str, db_name: str, *args: str, **env: str) -> tuple[int, str]:
    """Run the CLI in its own process, as an operator would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "RATE_LIMIT"))}
    environ |= {"MONGO_URI": mongo_uri, "MONGO_DB_NAME": db_name, "PYTHONPATH": str(ROOT), **env}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "doctor",
        *args,
        cwd=ROOT,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _index_names(database: Database) -> dict[str, list[str]]:
    result = {}
    for coll in (database.conversations, database.messages, database.tags):
        result[coll.name] = sorted([ix["name"] async for ix in await coll.list_indexes()])
    return result


async def _seed(database: Database) -> list[dict[str, Any]]:
    convos = [await insert_conversation(database, ALICE, title=f"Chat {i}") for i in range(3)]
    await insert_conversation(database, BOB, tags=["work"])
    for convo in convos:
        await insert_thread(database, ALICE, convo["conversationId"], ["hi", "hello"])
    await database.tags.insert_one({"tag": "work", "user": BOB, "count": 1, "position": 0})
    return convos


async def test_doctor_reports_bad_document_and_missing_index_exits_1_and_creates_nothing(
    database: Database, mongo_uri: str, db_name: str
) -> None:
    await _seed(database)
    # LibreChat's shape gone wrong: no conversationId, tags a string.
    bad = await database.conversations.insert_one({"user": ALICE, "title": "x", "tags": "work"})
    await database.conversations.drop_index(LIST_INDEX)
    indexes, data = await _index_names(database), await fingerprint(database)

    code, out = await _doctor(mongo_uri, db_name)

    assert code == 1, out
    assert "version " in out and "change streams" in out
    assert "conversations 5, messages 6, conversationtags 1" in out
    assert f"1 of {NEEDED} missing" in out
    assert "conversations {user: 1, updatedAt: -1, _id: -1}: build scans 5 documents" in out
    assert (
        f"conversations: 1 of the first 5 cannot be served\n"
        f"{'':19}_id {bad.inserted_id}: conversationId missing or not a string; "
        "tags is str, not an array\n"
    ) in out
    assert "messages: the first 6 are servable" in out
    assert "redis        not configured" in out
    assert out.endswith("result: BLOCKED (1 failing, 2 warnings)\n")
    # Read-only: no index created, no document touched.
    assert await _index_names(database) == indexes
    assert LIST_INDEX not in indexes["conversations"]
    assert await fingerprint(database) == data


async def test_doctor_on_a_servable_database_with_redis_exits_0(
    database: Database, mongo_uri: str, db_name: str
) -> None:
    await _seed(database)

    code, out = await _doctor(
        mongo_uri,
        db_name,
        REDIS_URI="redis://127.0.0.1:6379/0",
        RATE_LIMIT_STORAGE_URI="redis://127.0.0.1:6379/1",
    )

    assert code == 0, out
    assert f"all {NEEDED} the gateway needs exist" in out
    assert "REDIS_URI answers" in out and "RATE_LIMIT_STORAGE_URI answers" in out
    assert "result: ready to serve" in out


async def test_doctor_fails_when_configured_redis_is_unreachable(
    database: Database, mongo_uri: str, db_name: str
) -> None:
    await _seed(database)

    code, out = await _doctor(mongo_uri, db_name, REDIS_URI="redis://127.0.0.1:1/0")

    assert code == 1, out
    assert "[FAIL] redis        REDIS_URI not reachable" in out


async def test_doctor_fails_when_duplicates_block_a_missing_unique_index(
    database: Database, mongo_uri: str, db_name: str
) -> None:
    convos = await _seed(database)
    await database.conversations.drop_index("conversationId_1_user_1")
    twin = {k: v for k, v in convos[0].items() if k != "_id"}
    await database.conversations.insert_one(twin)
    data = await fingerprint(database)

    code, out = await _doctor(mongo_uri, db_name)

    assert code == 1, out
    assert "documents share {conversationId: 1, user: 1}" in out
    assert f"conversationId={convos[0]['conversationId']!r}, user={ALICE!r}, documents=2" in out
    assert await fingerprint(database) == data


async def test_doctor_create_indexes_creates_the_missing_ones(
    database: Database, mongo_uri: str, db_name: str
) -> None:
    await _seed(database)
    await database.conversations.drop_index(LIST_INDEX)
    data = await fingerprint(database)

    code, out = await _doctor(mongo_uri, db_name, "--create-indexes")

    assert code == 0, out
    assert "created the missing indexes" in out
    assert f"all {NEEDED} the gateway needs exist" in out
    assert LIST_INDEX in (await _index_names(database))["conversations"]
    assert await fingerprint(database) == data


def test_doctor_without_mongo_uri_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    monkeypatch.delenv("MONGO_URI", raising=False)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    assert main(["doctor"]) == 2


async def test_doctor_fails_when_mongodb_is_unreachable(db_name: str) -> None:
    code, out = await _doctor(
        "mongodb://127.0.0.1:1/?directConnection=true", db_name, MONGO_TIMEOUT_MS="300"
    )

    assert code == 1, out
    assert "[FAIL] mongodb      not reachable or not supported" in out
    assert out.endswith("result: BLOCKED (1 failing, 1 warnings)\n")
