"""POST /api/convos/fork: every option, with and without splitAtTarget, on a
branched tree; errors; nothing written on a refusal or a failed write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId

from app.settings import Settings
from resolvers.operations import fork as fork_ops
from resolvers.operations.events import ConversationEvent
from storage.database import Database, Document
from tests.conftest import make_settings
from tests.utils.factories import (
    ALICE,
    BASE_TIME,
    BOB,
    NO_PARENT,
    auth,
    insert_conversation,
    insert_thread,
    snapshot,
)
from tests.utils.trees import ALL, check_copy, insert_tree, parse_time


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    # Budgets out of the way: rate limits have their own tests.
    return make_settings(mongo_uri, fork_user_max=10_000, fork_ip_max=10_000)


async def _source(
    client: httpx.AsyncClient, database: Database
) -> tuple[Document, dict[str, Document]]:
    conversation = await insert_conversation(
        database,
        ALICE,
        title="Trip plan",
        temperature=0.3,
        iconURL="https://x/y.png",
        promptPrefix="be brief",
    )
    cid = conversation["conversationId"]
    tree = await insert_tree(database, ALICE, cid)
    response = await client.put(
        f"/api/tags/convo/{cid}", json={"tags": ["work", "travel"]}, headers=auth(ALICE)
    )
    assert response.status_code == 200
    return conversation, tree


NON_SPLIT = [
    # option sent -> (labels kept, roots) at target C1
    ("directPath", {"R", "A1", "B1", "C1"}, {"R"}),
    ("includeBranches", {"R", "A1", "A2", "B1", "B2", "C1"}, {"R"}),
    ("branch", {"R", "A1", "A2", "B1", "B2", "C1"}, {"R"}),
    ("targetLevel", ALL - {"D1"}, {"R", "R2"}),
    ("target", ALL - {"D1"}, {"R", "R2"}),
    ("", ALL - {"D1"}, {"R", "R2"}),
    (None, ALL - {"D1"}, {"R", "R2"}),
]

SPLIT = [
    # split at A1's level (A1, A2, A3 become roots), taken at C1
    ("directPath", {"A1", "B1", "C1"}, {"A1"}),
    ("includeBranches", {"A1", "B1", "B2", "C1"}, {"A1"}),
    ("targetLevel", {"A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2"}, {"A1", "A2", "A3"}),
]


async def _fork(
    client: httpx.AsyncClient, body: dict[str, Any], user: str = ALICE
) -> httpx.Response:
    return await client.post("/api/convos/fork", json=body, headers=auth(user))


@pytest.mark.parametrize(("option", "expected", "roots"), NON_SPLIT)
async def test_fork_keeps_exactly_the_option_s_messages(
    client: httpx.AsyncClient,
    database: Database,
    option: str | None,
    expected: set[str],
    roots: set[str],
) -> None:
    source, tree = await _source(client, database)
    body: dict[str, Any] = {
        "conversationId": source["conversationId"],
        "messageId": tree["C1"]["messageId"],
    }
    if option is not None:
        body["option"] = option
    response = await _fork(client, body)
    assert response.status_code == 200, response.text
    data = response.json()
    new_id = data["conversation"]["conversationId"]
    check_copy(
        data["messages"], tree, conversation_id=new_id, user=ALICE, expected=expected, roots=roots
    )


@pytest.mark.parametrize(("option", "expected", "roots"), SPLIT)
async def test_fork_split_at_target_starts_at_the_target_level_and_ends_at_latest(
    client: httpx.AsyncClient,
    database: Database,
    option: str,
    expected: set[str],
    roots: set[str],
) -> None:
    source, tree = await _source(client, database)
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["A1"]["messageId"],
            "option": option,
            "splitAtTarget": True,
            "latestMessageId": tree["C1"]["messageId"],
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()
    check_copy(
        data["messages"],
        tree,
        conversation_id=data["conversation"]["conversationId"],
        user=ALICE,
        expected=expected,
        roots=roots,
    )


async def test_split_false_ignores_latest_message_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, tree = await _source(client, database)
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["B1"]["messageId"],
            "option": "directPath",
            "splitAtTarget": False,
            "latestMessageId": tree["D1"]["messageId"],
        },
    )
    assert response.status_code == 200
    assert {m["text"] for m in response.json()["messages"]} == {"R", "A1", "B1"}


async def test_fork_keeps_createdat_but_forces_it_after_the_parent(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, tree = await _source(client, database)
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["C1"]["messageId"],
            "option": "targetLevel",
        },
    )
    by = {m["text"]: m for m in response.json()["messages"]}
    at = {label: parse_time(m["createdAt"]) for label, m in by.items()}
    assert at["R"] == BASE_TIME and at["A1"] == BASE_TIME + timedelta(seconds=1)
    assert at["B1"] == BASE_TIME + timedelta(seconds=2)
    # Tied with its parent, and stored before its parent: both pushed 1 ms after it.
    assert at["C2"] == at["B2"] + timedelta(milliseconds=1)
    assert at["B3"] == at["A2"] + timedelta(milliseconds=1)


async def test_fork_writes_the_conversation_and_messages_it_returns(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, tree = await _source(client, database)
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["C1"]["messageId"],
            "option": "directPath",
        },
    )
    data = response.json()
    conversation = data["conversation"]
    new_id = conversation["conversationId"]
    assert new_id != source["conversationId"]
    assert conversation["title"] == "Trip plan (Fork)"
    # Every field copied but _id; fresh timestamps.
    assert conversation["_id"] != str(source["_id"])
    assert (conversation["temperature"], conversation["iconURL"], conversation["promptPrefix"]) == (
        0.3,
        "https://x/y.png",
        "be brief",
    )
    assert conversation["tags"] == ["work", "travel"]
    assert conversation["createdAt"] == conversation["updatedAt"]
    assert parse_time(conversation["createdAt"]) > BASE_TIME
    stored = await database.conversations.find_one({"conversationId": new_id})
    assert stored is not None and stored["user"] == ALICE
    stored_messages = await database.messages.find(
        {"conversationId": new_id}, sort=[("createdAt", 1)]
    ).to_list(None)
    assert {m["messageId"] for m in stored_messages} == {m["messageId"] for m in data["messages"]}
    # `messages` holds the new messages' ObjectIds, as LibreChat's saveConvo keeps it.
    assert all(isinstance(i, ObjectId) for i in stored["messages"])
    assert sorted(stored["messages"]) == sorted(m["_id"] for m in stored_messages)
    assert conversation["messages"] == [m["_id"] for m in data["messages"]]
    # Other fields copied; unfinished/error reset (C1 had both set).
    c1 = next(m for m in data["messages"] if m["text"] == "C1")
    assert c1["content"] == [{"type": "text", "text": "C1"}]
    assert (c1["model"], c1["tokenCount"], c1["feedback"]) == ("gpt-4o", 12, {"rating": "thumbsUp"})
    assert (c1["unfinished"], c1["error"]) == (False, False)
    # The source is untouched.
    assert await database.messages.count_documents(
        {"conversationId": source["conversationId"]}
    ) == len(tree)


async def _counts(client: httpx.AsyncClient) -> dict[str, int]:
    tags = (await client.get("/api/tags", headers=auth(ALICE))).json()
    return {t["tag"]: t["count"] for t in tags}


async def test_fork_raises_tag_counts_to_the_true_number(
    client: httpx.AsyncClient, database: Database
) -> None:
    source, tree = await _source(client, database)
    before = await _counts(client)
    assert before == {"work": 1, "travel": 1}
    for _ in range(2):
        response = await _fork(
            client,
            {
                "conversationId": source["conversationId"],
                "messageId": tree["B1"]["messageId"],
            },
        )
        assert response.status_code == 200
    after = await _counts(client)
    assert after == {"work": 3, "travel": 3}


async def test_fork_publishes_a_created_event(
    client: httpx.AsyncClient, database: Database, app: Any
) -> None:
    events: list[ConversationEvent] = []

    class Recorder:
        async def publish(self, event: ConversationEvent) -> None:
            events.append(event)

    app.state.services.events = Recorder()
    source, tree = await _source(client, database)
    events.clear()
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["A1"]["messageId"],
        },
    )
    new_id = response.json()["conversation"]["conversationId"]
    assert events == [ConversationEvent("created", ALICE, (new_id,))]


async def test_fork_title_is_cut_so_the_suffix_fits(
    client: httpx.AsyncClient, database: Database
) -> None:
    source = await insert_conversation(database, ALICE, title="x" * 1024)
    thread = await insert_thread(database, ALICE, source["conversationId"], ["q"])
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": thread[0]["messageId"],
        },
    )
    title = response.json()["conversation"]["title"]
    assert len(title) == 1024 and title.endswith("x (Fork)")


async def test_fork_of_orphans_and_cycles_terminates_and_roots_them(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A parent outside the conversation, or a loop of parents, never hangs a fork."""
    source = await insert_conversation(database, ALICE)
    cid = source["conversationId"]
    docs = [
        {"messageId": "o1", "parentMessageId": "not-here", "text": "orphan"},
        {"messageId": "c1", "parentMessageId": "c2", "text": "loop1"},
        {"messageId": "c2", "parentMessageId": "c1", "text": "loop2"},
        {"messageId": "c3", "parentMessageId": "c2", "text": "below-loop"},
    ]
    for i, doc in enumerate(docs):
        doc.update(
            conversationId=cid,
            user=ALICE,
            isCreatedByUser=True,
            createdAt=BASE_TIME + timedelta(seconds=i),
        )
    await database.messages.insert_many(docs)
    response = await _fork(
        client,
        {
            "conversationId": cid,
            "messageId": "c3",
            "option": "directPath",
        },
    )
    assert response.status_code == 200
    messages = response.json()["messages"]
    # The loop is cut at the first message met (loop1): loop1 <- loop2 <- below-loop.
    assert [m["text"] for m in messages] == ["loop1", "loop2", "below-loop"]
    assert messages[0]["parentMessageId"] == NO_PARENT
    assert messages[1]["parentMessageId"] == messages[0]["messageId"]
    everything = await _fork(client, {"conversationId": cid, "messageId": "c3"})
    assert {m["text"] for m in everything.json()["messages"]} == {
        "orphan",
        "loop1",
        "loop2",
        "below-loop",
    }


# --- refusals: the right status, and nothing written ----------------------------


@pytest.fixture
async def tree_source(
    client: httpx.AsyncClient, database: Database
) -> tuple[Document, dict[str, Document]]:
    return await _source(client, database)


def _bad_bodies(cid: str, tree: dict[str, Document]) -> Iterator[tuple[object, str]]:
    mid = tree["C1"]["messageId"]
    yield {}, "conversationId is required"
    yield {"messageId": mid}, "conversationId is required"
    yield {"conversationId": cid}, "messageId is required"
    yield {"conversationId": cid, "messageId": ""}, "messageId is required"
    yield {"conversationId": 5, "messageId": mid}, "conversationId must be a string"
    yield {"conversationId": [cid], "messageId": mid}, "conversationId must be a string"
    yield {"conversationId": cid, "messageId": {"id": mid}}, "messageId must be a string"
    yield (
        {"conversationId": cid, "messageId": "m" * 201},
        "messageId must be at most 200 characters",
    )
    yield (
        {"conversationId": cid, "messageId": mid, "option": "sideways"},
        "option must be one of directPath, includeBranches, targetLevel",
    )
    yield (
        {"conversationId": cid, "messageId": mid, "option": 1},
        "option must be one of directPath, includeBranches, targetLevel",
    )
    yield (
        {"conversationId": cid, "messageId": mid, "splitAtTarget": "true"},
        "splitAtTarget must be a boolean",
    )
    yield (
        {"conversationId": cid, "messageId": mid, "splitAtTarget": True},
        "latestMessageId is required",
    )
    yield (
        {"conversationId": cid, "messageId": mid, "latestMessageId": 7},
        "latestMessageId must be a string",
    )
    # latestMessageId above the target's level: the split would drop it.
    yield (
        {
            "conversationId": cid,
            "messageId": mid,
            "splitAtTarget": True,
            "latestMessageId": tree["A1"]["messageId"],
        },
        "latestMessageId must be at or below the level of messageId",
    )


async def test_fork_bad_input_is_400_and_writes_nothing(
    client: httpx.AsyncClient,
    database: Database,
    tree_source: tuple[Document, dict[str, Document]],
) -> None:
    source, tree = tree_source
    before = await snapshot(database)
    for body, error in _bad_bodies(source["conversationId"], tree):
        response = await _fork(client, body)  # type: ignore[arg-type]
        assert (response.status_code, response.json()) == (400, {"error": error}), body
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"conversationId": {"$ne": null}, "messageId": "x"}',
        b'{"conversationId": "c", "messageId": "x", "option": {"$gt": ""}}',
        b'{"conversationId": "c", "messageId": "x"',
        b'["conversationId"]',
    ],
)
async def test_fork_operator_keys_and_malformed_json_are_400_and_write_nothing(
    client: httpx.AsyncClient,
    database: Database,
    tree_source: tuple[Document, dict[str, Document]],
    raw: bytes,
) -> None:
    before = await snapshot(database)
    response = await client.post(
        "/api/convos/fork",
        content=raw,
        headers={**auth(ALICE), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert await snapshot(database) == before


async def test_fork_unknown_and_foreign_conversations_are_404_and_403(
    client: httpx.AsyncClient,
    database: Database,
    tree_source: tuple[Document, dict[str, Document]],
) -> None:
    source, tree = tree_source
    before = await snapshot(database)
    unknown = await _fork(client, {"conversationId": "nope", "messageId": "x"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Conversation not found"})
    foreign = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["C1"]["messageId"],
        },
        user=BOB,
    )
    assert foreign.status_code == 403
    assert foreign.json() == {
        "error": "Unauthorized",
        "message": "You don't have access to this conversation",
    }
    assert await snapshot(database) == before


async def test_fork_unknown_message_is_404_message_not_found(
    client: httpx.AsyncClient,
    database: Database,
    tree_source: tuple[Document, dict[str, Document]],
) -> None:
    source, tree = tree_source
    other = await insert_conversation(database, ALICE)
    elsewhere = await insert_thread(database, ALICE, other["conversationId"], ["x"])
    before = await snapshot(database)
    cid = source["conversationId"]
    for body in (
        {"conversationId": cid, "messageId": "44444444-4444-4444-4444-444444444444"},
        # A message of another conversation is not in this one.
        {"conversationId": cid, "messageId": elsewhere[0]["messageId"]},
        {
            "conversationId": cid,
            "messageId": tree["A1"]["messageId"],
            "splitAtTarget": True,
            "latestMessageId": "nope",
        },
    ):
        response = await _fork(client, body)
        assert (response.status_code, response.json()) == (404, {"error": "Message not found"})
    assert await snapshot(database) == before


async def test_fork_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/convos/fork", json={"conversationId": "x"})
    assert (response.status_code, response.json()) == (401, {"message": "No auth token"})


def _ids(values: list[str]) -> Iterator[str]:
    yield from values
    while True:
        yield fork_ops.new_id()


async def test_failed_message_batch_is_deleted_again(
    client: httpx.AsyncClient,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tree_source: tuple[Document, dict[str, Document]],
) -> None:
    """The third new message collides with an existing id: the two written are removed."""
    source, tree = tree_source
    before = await snapshot(database)
    ids = _ids([fork_ops.new_id(), fork_ops.new_id(), fork_ops.new_id(), tree["R"]["messageId"]])
    monkeypatch.setattr(fork_ops, "new_id", lambda: next(ids))
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["C1"]["messageId"],
            "option": "directPath",
        },
    )
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error"})
    assert await snapshot(database) == before


async def test_failed_conversation_insert_deletes_the_messages(
    client: httpx.AsyncClient,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tree_source: tuple[Document, dict[str, Document]],
) -> None:
    """The new conversation id collides (unique with the user): no message is left behind."""
    source, tree = tree_source
    before = await snapshot(database)
    ids = _ids([source["conversationId"]])
    monkeypatch.setattr(fork_ops, "new_id", lambda: next(ids))
    response = await _fork(
        client,
        {
            "conversationId": source["conversationId"],
            "messageId": tree["C1"]["messageId"],
        },
    )
    assert response.status_code == 500
    assert await snapshot(database) == before
