"""LibreChat's own client package works against the running gateway, unchanged.

A real uvicorn serves the app on a loopback port; ``scenario.mjs`` drives it
with ``librechat-data-provider``'s ``dataService`` functions (the ones
LibreChat's web client calls) and prints what each returned. The version of
the package is pinned exactly in ``package.json`` and ``package-lock.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.main import create_app
from storage.database import Database
from storage.embedded import free_port
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BASE_TIME, BOB, conversation_doc, message_doc, token

pytestmark = pytest.mark.node

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "scenario.mjs"
N_CONVERSATIONS = 30
FORBIDDEN = {"error": "Unauthorized", "message": "You don't have access to this conversation"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the LibreChat client test needs Node.js 20+")
    return path


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the pinned client package once (``npm ci``: exactly the lock file)."""
    installed = HERE / "node_modules" / "librechat-data-provider" / "package.json"
    if not installed.exists():
        subprocess.run(
            [_tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=300,
        )
    return installed.parent


@pytest.fixture
def base_url(mongo_uri: str, db_name: str, database: Database) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, on the test database."""
    settings = make_settings(mongo_uri, mongo_db_name=db_name)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-compat", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


async def _seed(database: Database) -> dict[str, Any]:
    conversations, messages = [], []
    for i in range(N_CONVERSATIONS):
        at = BASE_TIME + timedelta(minutes=i)
        doc = conversation_doc(
            ALICE,
            title=f"Chat {i:02d}",
            tags=["work"] if i % 3 == 0 else [],
            createdAt=at,
            updatedAt=at,
        )
        conversations.append(doc)
        question = message_doc(
            ALICE,
            doc["conversationId"],
            created_at=at,
            text="a needle in the haystack" if i == 7 else f"question {i}",
        )
        answer = message_doc(
            ALICE,
            doc["conversationId"],
            parent=question["messageId"],
            created_at=at + timedelta(seconds=1),
            text=f"answer {i}",
            isCreatedByUser=False,
        )
        messages += [question, answer]
    foreign = conversation_doc(BOB, title="Bob's")
    await database.conversations.insert_many([*conversations, foreign])
    await database.messages.insert_many(messages)
    await database.tags.insert_many(
        [
            {
                "tag": "work",
                "user": ALICE,
                "count": 10,
                "position": 0,
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
            },
            {
                "tag": "personal",
                "user": ALICE,
                "count": 0,
                "position": 1,
                "createdAt": BASE_TIME,
                "updatedAt": BASE_TIME,
            },
        ]
    )
    newest_first = [c["conversationId"] for c in reversed(conversations)]
    return {
        "newest_first": newest_first,
        "work": {c["conversationId"] for c in conversations if "work" in c["tags"]},
        "needle": conversations[7]["conversationId"],
        "foreign": foreign["conversationId"],
    }


def _run(
    mode: str, base_url: str, foreign_id: str, node_modules: Path, **extra_env: str
) -> dict[str, Any]:
    env = {
        **os.environ,
        "CONVOS_BASE_URL": base_url,
        "CONVOS_TOKEN": token(ALICE),
        "CONVOS_FOREIGN_ID": foreign_id,
        **extra_env,
    }
    done = subprocess.run(
        [_tool("node"), str(SCRIPT), mode],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def _ok(results: dict[str, Any], step: str) -> Any:
    outcome = results[step]
    assert outcome["ok"], f"{step}: {outcome}"
    return outcome["data"]


async def test_librechat_client_lists_edits_tags_and_deletes(
    base_url: str, database: Database, node_modules: Path
) -> None:
    seeded = await _seed(database)
    r = _run("main", base_url, seeded["foreign"], node_modules)

    assert _ok(r, "healthCheck") == "OK"
    assert _ok(r, "getSearchEnabled") is True

    # The infinite list: three pages of 10 by cursor, newest first, then null.
    pages = _ok(r, "listAllPages")
    assert [len(p["ids"]) for p in pages] == [10, 10, 10]
    assert [p["nextCursor"] is None for p in pages] == [False, False, True]
    assert [i for p in pages for i in p["ids"]] == seeded["newest_first"]
    assert len(_ok(r, "getConversationsFirstPage")["conversations"]) == 25
    by_title = _ok(r, "listByTitle")["conversations"]
    assert [c["title"] for c in by_title] == ["Chat 00", "Chat 01", "Chat 02", "Chat 03", "Chat 04"]
    assert [c["conversationId"] for c in _ok(r, "listSearch")["conversations"]] == [
        seeded["needle"]
    ]
    assert {c["conversationId"] for c in _ok(r, "listTagged")["conversations"]} == seeded["work"]

    ids = r["ids"]
    assert _ok(r, "getConversationById")["conversationId"] == ids["renamed"]
    assert _ok(r, "updateConversation")["title"] == "Renamed by client"
    assert _ok(r, "archiveConversation")["isArchived"] is True
    assert [c["conversationId"] for c in _ok(r, "listArchived")["conversations"]] == [
        ids["archived"]
    ]
    assert _ok(r, "pinConversation")["pinned"] is True

    assert [t["tag"] for t in _ok(r, "getConversationTagsBefore")] == ["work", "personal"]
    created = _ok(r, "createConversationTag")
    assert (created["tag"], created["description"], created["count"]) == (
        "client-tag",
        "made by the client",
        0,
    )
    assert _ok(r, "createConversationTagOnConversation")["tag"] == "a/b c"
    assert _ok(r, "updateConversationTag")["tag"] == "client-renamed"
    assert _ok(r, "addTagToConversation") == ["client-renamed", "work", "a/b c"]
    assert _ok(r, "deleteConversationTag")["tag"] == "a/b c"
    after = {t["tag"]: t for t in _ok(r, "getConversationTagsAfter")}
    assert set(after) == {"work", "personal", "client-renamed"}
    assert (after["work"]["count"], after["client-renamed"]["count"]) == (11, 1)

    assert (r["getForeignConversation"]["status"], r["getForeignConversation"]["data"]) == (
        403,
        FORBIDDEN,
    )
    assert r["getMissingConversation"]["status"] == 404
    deleted = _ok(r, "deleteConversation")
    assert (deleted["deletedCount"], deleted["messages"]["deletedCount"]) == (1, 2)
    # Renaming and tagging are activity (updatedAt moves); pinning and
    # archiving are not, as in LibreChat.
    remaining = [i for p in _ok(r, "listAfterDelete") for i in p["ids"]]
    moved = [ids["tagged"], ids["renamed"]]
    gone = (ids["archived"], ids["deleted"])
    assert remaining == moved + [
        i for i in seeded["newest_first"] if i not in moved and i not in gone
    ]

    # What the client did is what the database holds.
    def find(cid: str) -> Any:
        return database.conversations.find_one({"conversationId": cid, "user": ALICE})

    assert (await find(ids["renamed"]))["title"] == "Renamed by client"
    archived = await find(ids["archived"])
    assert archived["isArchived"] is True and archived["archivedAt"] is not None
    assert (await find(ids["pinned"]))["pinned"] is True
    assert (await find(ids["tagged"]))["tags"] == ["client-renamed", "work"]
    assert await find(ids["deleted"]) is None
    assert await database.messages.count_documents({"conversationId": ids["deleted"]}) == 0
    tag = await database.tags.find_one({"user": ALICE, "tag": "client-renamed"})
    assert tag is not None and tag["description"] == "renamed by the client"
    assert await database.tags.find_one({"user": ALICE, "tag": "a/b c"}) is None
    bob = await database.conversations.find_one({"conversationId": seeded["foreign"]})
    assert bob is not None and bob["user"] == BOB and bob["title"] == "Bob's"

    # Then "Delete all" from the settings page.
    r = _run("clear", base_url, seeded["foreign"], node_modules)
    cleared = _ok(r, "clearAllConversations")
    assert (cleared["deletedCount"], cleared["messages"]["deletedCount"]) == (
        N_CONVERSATIONS - 1,
        2 * (N_CONVERSATIONS - 1),
    )
    assert _ok(r, "listAfterClear")["conversations"] == []
    assert {t["count"] for t in _ok(r, "getConversationTagsAfterClear")} == {0}
    assert await database.conversations.count_documents({"user": ALICE}) == 0
    assert await database.messages.count_documents({"user": ALICE}) == 0
    assert await database.conversations.count_documents({"user": BOB}) == 1


async def test_librechat_client_forks_duplicates_imports_and_gets_titles(
    base_url: str, database: Database, node_modules: Path
) -> None:
    source = conversation_doc(ALICE, title="Source", tags=["work"])
    question = message_doc(ALICE, source["conversationId"], text="How do I cook pasta?")
    answer = message_doc(
        ALICE,
        source["conversationId"],
        parent=question["messageId"],
        created_at=BASE_TIME + timedelta(seconds=1),
        text="Boil water.",
        isCreatedByUser=False,
    )
    untitled = conversation_doc(ALICE, title="New Chat")
    opener = message_doc(ALICE, untitled["conversationId"], text="Plan a trip to Lisbon")
    await database.conversations.insert_many([source, untitled])
    await database.messages.insert_many([question, answer, opener])
    await database.tags.insert_one(
        {
            "tag": "work",
            "user": ALICE,
            "count": 1,
            "position": 0,
            "createdAt": BASE_TIME,
            "updatedAt": BASE_TIME,
        }
    )

    r = _run(
        "clone",
        base_url,
        "",
        node_modules,
        CONVOS_SOURCE_ID=source["conversationId"],
        CONVOS_SOURCE_MESSAGE=question["messageId"],
        CONVOS_UNTITLED_ID=untitled["conversationId"],
    )

    fork = _ok(r, "forkConversation")
    assert fork["conversation"]["title"] == "Source (Fork)"
    assert [m["text"] for m in fork["messages"]] == ["How do I cook pasta?"]
    duplicate = _ok(r, "duplicateConversation")
    assert duplicate["conversation"]["title"] == "Copied by client"
    assert [m["text"] for m in duplicate["messages"]] == ["How do I cook pasta?", "Boil water."]
    assert _ok(r, "importConversationsFile") == {"message": "Conversation(s) imported successfully"}
    imported = await database.conversations.find_one({"user": ALICE, "title": "Imported by client"})
    assert imported is not None
    assert (
        await database.messages.count_documents({"conversationId": imported["conversationId"]}) == 2
    )
    title = _ok(r, "genTitle")["title"]
    assert "lisbon" in title.lower()
    stored = await database.conversations.find_one({"conversationId": untitled["conversationId"]})
    assert stored is not None and stored["title"] == title
    work = await database.tags.find_one({"user": ALICE, "tag": "work"})
    assert work is not None and work["count"] == 3  # source, fork and duplicate


async def test_librechat_client_opens_conversations_rebuilds_tags_and_archives_all(
    base_url: str, database: Database, node_modules: Path
) -> None:
    source = conversation_doc(ALICE, title="Source", tags=["work", "lost"])
    thread = [
        message_doc(ALICE, source["conversationId"], text="How do I cook pasta?"),
    ]
    thread.append(
        message_doc(
            ALICE,
            source["conversationId"],
            parent=thread[0]["messageId"],
            created_at=BASE_TIME + timedelta(seconds=1),
            text="Boil water.",
            isCreatedByUser=False,
        )
    )
    other = conversation_doc(ALICE, title="Other", tags=["work"])
    archived = conversation_doc(ALICE, isArchived=True, archivedAt=BASE_TIME - timedelta(days=1))
    temporary = conversation_doc(ALICE, expiredAt=BASE_TIME + timedelta(days=30))
    foreign = conversation_doc(BOB, title="Bob's", tags=["work"])
    await database.conversations.insert_many([source, other, archived, temporary, foreign])
    await database.messages.insert_many(
        [*thread, message_doc(BOB, foreign["conversationId"], text="Bob's secret")]
    )
    # A drifted count and a tag a conversation carries without its document.
    await database.tags.insert_one(
        {
            "tag": "work",
            "user": ALICE,
            "count": -4,
            "position": 3,
            "createdAt": BASE_TIME,
            "updatedAt": BASE_TIME,
        }
    )

    r = _run(
        "routes",
        base_url,
        foreign["conversationId"],
        node_modules,
        CONVOS_SOURCE_ID=source["conversationId"],
    )

    opened = _ok(r, "getMessagesByConvoId")
    assert [m["text"] for m in opened] == ["How do I cook pasta?", "Boil water."]
    assert opened[1]["parentMessageId"] == thread[0]["messageId"]
    assert all("_id" not in m and "user" not in m for m in opened)
    assert (r["getForeignMessages"]["status"], r["getForeignMessages"]["data"]) == (403, FORBIDDEN)
    assert "secret" not in json.dumps(r["getForeignMessages"])
    assert r["getMissingMessages"]["status"] == 404

    rebuilt = _ok(r, "rebuildConversationTags")
    assert [(t["tag"], t["count"], t["position"]) for t in rebuilt] == [
        ("work", 2, 0),
        ("lost", 1, 1),
    ]
    stored = {t["tag"]: t["count"] async for t in database.tags.find({"user": ALICE})}
    assert stored == {"work": 2, "lost": 1}
    assert await database.tags.count_documents({"user": BOB}) == 0

    assert _ok(r, "archiveAllConversations") == {"archivedCount": 2}
    assert _ok(r, "listAfterArchiveAll")["conversations"] == []
    archived_ids = [
        c["conversationId"] for c in _ok(r, "listArchivedAfterArchiveAll")["conversations"]
    ]
    assert set(archived_ids) == {
        source["conversationId"],
        other["conversationId"],
        archived["conversationId"],
    }
    assert _ok(r, "archiveAllAgain") == {"archivedCount": 0}
    swept = await database.conversations.find(
        {"conversationId": {"$in": [source["conversationId"], other["conversationId"]]}}
    ).to_list(None)
    assert {d["archivedAt"] for d in swept} != {None} and len({d["archivedAt"] for d in swept}) == 1
    assert {d["updatedAt"] for d in swept} == {BASE_TIME}
    kept = await database.conversations.find_one({"conversationId": temporary["conversationId"]})
    assert kept is not None and kept["isArchived"] is False
    bob = await database.conversations.find_one({"conversationId": foreign["conversationId"]})
    assert bob is not None and bob["isArchived"] is False
