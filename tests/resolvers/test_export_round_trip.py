"""Property: exporting random conversation trees in LibreChat's format and
importing the file back gives the same conversations (titles, tags), the same
messages and the same tree; the Markdown and JSONL exports have their shape.
"""

from __future__ import annotations

import io
import itertools
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolvers.adapters.services import Services
from resolvers.exporting.formats import ExportFormat
from resolvers.exporting.operation import ExportAdmission, export_conversations
from resolvers.operations.conversations import ListQuery
from resolvers.operations.selection import Selection
from storage.database import Database, Document
from tests.utils.factories import BASE_TIME, NO_PARENT, conversation_doc, message_doc
from tests.utils.imports import import_all, open_bytes

TAGS = ["work", "later", "a b"]

message_spec = st.tuples(
    st.integers(min_value=-1, max_value=20),  # parent: an earlier message, or a root
    st.text(min_size=0, max_size=12),
    st.booleans(),
    st.integers(min_value=0, max_value=50),  # seconds after the start (may precede the parent)
)
conversation_spec = st.tuples(
    st.text(min_size=1, max_size=20).filter(lambda t: t.strip() == t and t != ""),
    st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
    st.lists(message_spec, min_size=1, max_size=9),
)


async def _seed(database: Database, user: str, specs: list[Any]) -> None:
    for title, tags, messages in specs:
        conversation = conversation_doc(user, title=title, tags=tags)
        cid = conversation["conversationId"]
        docs: list[Document] = []
        for i, (parent, text, by_user, seconds) in enumerate(messages):
            parent_id = docs[parent % i]["messageId"] if parent >= 0 and i else NO_PARENT
            docs.append(
                message_doc(
                    user,
                    cid,
                    parent=parent_id,
                    text=f"m{i}:{text}",
                    created_at=BASE_TIME + timedelta(seconds=seconds),
                    isCreatedByUser=by_user,
                )
            )
        await database.conversations.insert_one(conversation)
        await database.messages.insert_many(docs)


def _tree(messages: list[Document]) -> tuple[Any, ...]:
    """The tree as nested sorted tuples of (text, by user, children): ids and times left out."""
    ids = {m["messageId"] for m in messages}
    children: dict[str, list[Document]] = {}
    for m in messages:
        parent = m["parentMessageId"] if m["parentMessageId"] in ids else ""
        children.setdefault(parent, []).append(m)

    def node(m: Document) -> tuple[Any, ...]:
        kids = tuple(sorted(node(c) for c in children.get(m["messageId"], [])))
        return (m["text"], bool(m["isCreatedByUser"]), kids)

    return tuple(sorted(node(m) for m in children.get("", [])))


async def _export(database: Database, user: str, fmt: ExportFormat) -> bytes:
    stream = await export_conversations(
        Services(database=database),
        ExportAdmission.unmetered(user),
        selection=Selection(filter=ListQuery()),
        fmt=fmt,
        chunk=2,  # several chunks even for a few conversations
    )
    return b"".join([part async for part in stream.chunks])


@given(specs=st.lists(conversation_spec, min_size=1, max_size=4))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_librechat_export_imports_back_to_the_same_conversations_and_trees(
    database: Database, specs: list[Any]
) -> None:
    user = uuid.uuid4().hex[:24]
    await _seed(database, user, specs)
    stored = []
    for conversation in await database.conversations.find({"user": user}).to_list(None):
        messages = await database.messages.find(
            {"user": user, "conversationId": conversation["conversationId"]}
        ).to_list(None)
        stored.append((conversation["title"], sorted(conversation["tags"]), _tree(messages)))

    parsed = import_all(open_bytes(await _export(database, user, ExportFormat.LIBRECHAT)))

    imported = [
        (p.conversation["title"], sorted(p.conversation["tags"]), _tree(p.messages)) for p in parsed
    ]
    assert sorted(imported) == sorted(stored)
    # Preset fields come back too.
    assert {p.conversation["model"] for p in parsed} == {"gpt-4o"}


def _is_path(texts: list[str], messages: list[Document]) -> bool:
    """Whether ``texts`` are a root-to-latest path of the stored tree."""
    by_text = {m["text"]: m for m in messages}
    path = [by_text[t] for t in texts]
    if path[0]["parentMessageId"] in {m["messageId"] for m in messages}:
        return False
    linked = all(b["parentMessageId"] == a["messageId"] for a, b in itertools.pairwise(path))
    latest = max(messages, key=lambda m: (m["createdAt"], m["_id"]))
    return linked and path[-1] is latest


@given(specs=st.lists(conversation_spec, min_size=1, max_size=3))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_jsonl_and_markdown_exports_hold_the_visible_thread_of_each_conversation(
    database: Database, specs: list[Any]
) -> None:
    user = uuid.uuid4().hex[:24]
    await _seed(database, user, specs)
    conversations = {
        c["conversationId"]: c
        for c in await database.conversations.find({"user": user}).to_list(None)
    }

    lines = (await _export(database, user, ExportFormat.JSONL)).splitlines()
    assert len(lines) == len(specs)
    for line in lines:
        record = orjson.loads(line)
        messages = await database.messages.find(
            {"user": user, "conversationId": record["conversationId"]}
        ).to_list(None)
        assert record["title"] == conversations[record["conversationId"]]["title"]
        assert {m["role"] for m in record["messages"]} <= {"user", "assistant"}
        assert _is_path([m["content"] for m in record["messages"]], messages)
        by_text = {m["text"]: m for m in messages}
        assert all(
            (m["role"] == "user") == by_text[m["content"]]["isCreatedByUser"]
            for m in record["messages"]
        )

    archive = zipfile.ZipFile(io.BytesIO(await _export(database, user, ExportFormat.MARKDOWN)))
    names = archive.namelist()
    assert len(names) == len(specs) and all(n.endswith(".md") for n in names)
    for name in names:
        text = archive.read(name).decode()
        cid = next(c for c in conversations if name.endswith(f"-{c}.md"))
        assert text.startswith(f"# {conversations[cid]['title']}\n")
        messages = await database.messages.find({"user": user, "conversationId": cid}).to_list(None)
        latest = max(messages, key=lambda m: (m["createdAt"], m["_id"]))
        assert latest["text"] in text
