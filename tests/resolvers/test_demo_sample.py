"""The built-in sample: what it holds, and loading, first-run and reset on the real database."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import timedelta
from typing import Any

from resolvers.adapters.services import Services
from resolvers.demo import (
    SAMPLE_NOW,
    load_on_first_run,
    load_sample,
    reset_sample,
    sample_exports,
    sample_files,
)
from resolvers.importing import ImportFormat, detect_format
from resolvers.operations import conversations as conversation_ops
from resolvers.operations import tags as tag_ops
from resolvers.operations.clock import utcnow
from storage.database import Database
from tests.utils.factories import ALICE, BOB, fingerprint, insert_conversation


def _messages(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for node in nodes:
        found.append(node)
        found.extend(_messages(node.get("children", [])))
    return found


def _branches(export: dict[str, Any]) -> bool:
    """Whether a message (or the root) has more than one child: an edit or a regeneration."""
    tree = export["messagesTree"]
    return len(tree) > 1 or any(len(m["children"]) > 1 for m in _messages(tree))


def test_sample_is_a_dozen_librechat_exports_with_branches_tags_and_states() -> None:
    files = sample_files()
    exports = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert len(exports) == 12
    for entry in files:
        assert detect_format(io.BytesIO(entry.read_bytes())) is ImportFormat.LIBRECHAT
    assert sum(_branches(e) for e in exports) >= 4
    # An edited first message (a second root) and a regenerated answer both occur.
    assert any(len(e["messagesTree"]) > 1 for e in exports)
    assert any(
        len(m["children"]) > 1 and m["isCreatedByUser"]
        for e in exports
        for m in _messages(e["messagesTree"])
    )
    assert [e["options"]["pinned"] for e in exports].count(True) == 1
    assert [e["options"]["isArchived"] for e in exports].count(True) == 1
    assert len({e["endpoint"] for e in exports}) >= 4
    models = {m["model"] for e in exports for m in _messages(e["messagesTree"]) if m["model"]}
    assert len(models) >= 6
    assert len({t for e in exports for t in e["options"]["tags"]}) >= 5


def test_sample_times_end_near_now_and_keep_their_order() -> None:
    now = utcnow()
    shifted = sample_exports(now)
    times = [m["createdAt"] for e in shifted for m in _messages(e["messagesTree"])]
    newest = max(times)
    assert newest <= now.isoformat()
    # The sample was written with its newest message hours before SAMPLE_NOW.
    assert newest >= (now - timedelta(days=1)).isoformat()
    original = [json.loads(f.read_text(encoding="utf-8")) for f in sample_files()]
    first_original = original[0]["messagesTree"][0]["createdAt"]
    assert first_original < SAMPLE_NOW.isoformat()


async def test_load_sample_writes_conversations_tree_tags_pin_and_archive(
    database: Database,
) -> None:
    services = Services(database=database)
    result = await load_sample(services, ALICE)
    assert result.conversations == 12 and result.pinned == 1 and result.archived == 1

    conversations = await database.conversations.find({"user": ALICE}).to_list(None)
    assert len(conversations) == 12
    assert sum(bool(c.get("pinned")) for c in conversations) == 1
    archived = [c for c in conversations if c.get("isArchived")]
    assert len(archived) == 1 and archived[0].get("archivedAt") is not None
    assert len({c["endpoint"] for c in conversations}) >= 4

    messages = await database.messages.find({"user": ALICE}).to_list(None)
    assert len(messages) == result.messages
    children = Counter(m["parentMessageId"] for m in messages)
    assert max(children.values()) >= 2  # branches survived the import

    expected = Counter(t for c in conversations for t in c["tags"])
    tags = await database.tags.find({"user": ALICE}).to_list(None)
    assert {t["tag"]: t["count"] for t in tags} == dict(expected)
    assert sorted(expected) == sorted(result.tags)


async def test_first_run_loads_once_and_never_over_existing_data(database: Database) -> None:
    services = Services(database=database)
    assert await load_on_first_run(services, ALICE) is not None
    assert await load_on_first_run(services, ALICE) is None
    assert await database.conversations.count_documents({"user": ALICE}) == 12

    # A user with anything at all (here one archived conversation) is left alone.
    await insert_conversation(database, BOB, isArchived=True)
    before = await fingerprint(database)
    assert await load_on_first_run(services, BOB) is None
    assert await fingerprint(database) == before


async def test_a_deleted_sample_stays_deleted_on_the_next_first_run_check(
    database: Database,
) -> None:
    services = Services(database=database)
    await load_sample(services, ALICE)
    await conversation_ops.delete_all_conversations(services, ALICE)
    assert await load_on_first_run(services, ALICE) is None
    assert await database.conversations.count_documents({"user": ALICE}) == 0


async def test_reset_restores_the_sample_after_changes_and_leaves_others_alone(
    database: Database,
) -> None:
    services = Services(database=database)
    await load_sample(services, ALICE)
    original = await database.conversations.find({"user": ALICE}).to_list(None)
    titles = sorted(c["title"] for c in original)
    tag_counts = {
        t["tag"]: t["count"] for t in await database.tags.find({"user": ALICE}).to_list(None)
    }
    await insert_conversation(database, BOB, title="Bob's own")
    bob_before = await database.conversations.find({"user": BOB}, {"_id": 0}).to_list(None)

    first = original[0]["conversationId"]
    await conversation_ops.update_title(services, ALICE, conversation_id=first, title="Renamed")
    await conversation_ops.delete_conversation(
        services, ALICE, conversation_id=original[1]["conversationId"]
    )
    await tag_ops.create_tag(services, ALICE, tag="mine", description=None)

    result = await reset_sample(services, ALICE)

    assert result.conversations == 12
    after = await database.conversations.find({"user": ALICE}).to_list(None)
    assert sorted(c["title"] for c in after) == titles
    tags = await database.tags.find({"user": ALICE}).to_list(None)
    assert {t["tag"]: t["count"] for t in tags} == tag_counts
    assert await database.messages.count_documents({"user": ALICE}) == result.messages
    assert await database.conversations.find({"user": BOB}, {"_id": 0}).to_list(None) == (
        bob_before
    )
