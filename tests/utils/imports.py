"""Helpers for import tests: fixture files, running an import, reading trees."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from resolvers.importing import NO_PARENT, ParsedConversation, iter_import
from storage.database import Database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
NOW = datetime(2025, 6, 1, 12, 0, 0)
USER = "665f1c2e9b7d4e1100000001"


def open_file(path: Path) -> Callable[[], IO[bytes]]:
    """An ``open_stream`` over a file, as the wiring passes a spooled upload."""
    return lambda: path.open("rb")


def open_bytes(data: bytes) -> Callable[[], IO[bytes]]:
    """An ``open_stream`` over bytes in memory."""
    return lambda: io.BytesIO(data)


def import_all(open_stream: Callable[[], IO[bytes]]) -> list[ParsedConversation]:
    """Every conversation of an upload, every tree checked for well-formedness."""
    parsed = list(iter_import(open_stream, USER, NOW))
    for conversation in parsed:
        assert_well_formed(conversation)
    return parsed


def import_fixture(name: str) -> list[ParsedConversation]:
    """Every conversation of a fixture file."""
    return import_all(open_file(FIXTURES / name))


def assert_well_formed(parsed: ParsedConversation) -> None:
    """The invariants every imported conversation keeps, whatever its format.

    New uuid4 ids, the importing user everywhere, each parent emitted before
    its children, and createdAt strictly after the parent's.
    """
    conversation = parsed.conversation
    assert uuid.UUID(conversation["conversationId"]).version == 4
    assert conversation["user"] == USER
    assert conversation["isArchived"] is False
    assert conversation["createdAt"] == conversation["updatedAt"]
    seen: dict[str, dict[str, Any]] = {}
    for message in parsed.messages:
        assert uuid.UUID(message["messageId"]).version == 4
        assert message["messageId"] not in seen
        assert message["conversationId"] == conversation["conversationId"]
        assert message["user"] == USER
        assert message["error"] is False
        assert message["unfinished"] is False
        assert message["createdAt"] == message["updatedAt"]
        assert message["createdAt"].tzinfo is None
        assert message["createdAt"].microsecond % 1000 == 0
        parent = message["parentMessageId"]
        if parent != NO_PARENT:
            assert parent in seen, "a parent must be emitted before its children"
            assert message["createdAt"] > seen[parent]["createdAt"]
        seen[message["messageId"]] = message


def by_text(parsed: ParsedConversation, text: str) -> dict[str, Any]:
    """The one message whose text starts with ``text``."""
    found = [m for m in parsed.messages if m["text"].startswith(text)]
    assert len(found) == 1, f"{len(found)} messages start with {text!r}"
    return found[0]


def thread(parsed: ParsedConversation, leaf_text: str) -> list[tuple[str, str]]:
    """(sender, text) from the root down to the message starting with ``leaf_text``."""
    by_id = {m["messageId"]: m for m in parsed.messages}
    message: dict[str, Any] | None = by_text(parsed, leaf_text)
    path: list[tuple[str, str]] = []
    while message is not None:
        path.append((message["sender"], message["text"]))
        message = by_id.get(message["parentMessageId"])
    return path[::-1]


def roots(parsed: ParsedConversation) -> list[str]:
    """Texts of the root messages, in emission order."""
    return [m["text"] for m in parsed.messages if m["parentMessageId"] == NO_PARENT]


async def stored_imports(database: Database, user: str = USER) -> list[ParsedConversation]:
    """The user's conversations with their messages, as stored, in the order written.

    An import gives ObjectIds in the order it emits documents (one process,
    one increasing counter), so ``_id`` order is file order, parents first.
    """
    # Without the fields storage adds to every new document (LibreChat's
    # search sync bookkeeping), so stored documents compare with parsed ones.
    hidden = {"_meiliIndex": 0, "expiredAt": 0, "__v": 0}
    conversations = await database.conversations.find(
        {"user": user}, hidden, sort=[("_id", 1)]
    ).to_list(None)
    messages = await database.messages.find({"user": user}, hidden, sort=[("_id", 1)]).to_list(None)
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_conversation.setdefault(message["conversationId"], []).append(message)
    return [
        ParsedConversation(conversation=c, messages=by_conversation.pop(c["conversationId"], []))
        for c in conversations
    ]


def without_ids(parsed: ParsedConversation) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The documents with every id and the owner left out and each parent named
    by its position, so two imports of one file compare field by field."""
    conversation = {
        k: v
        for k, v in parsed.conversation.items()
        if k not in {"_id", "conversationId", "user", "messages"}
    }
    position = {m["messageId"]: i for i, m in enumerate(parsed.messages)}
    messages = []
    for message in parsed.messages:
        doc = {
            k: v
            for k, v in message.items()
            if k not in {"_id", "messageId", "conversationId", "user", "parentMessageId"}
        }
        parent = message["parentMessageId"]
        doc["parent"] = None if parent == NO_PARENT else position[parent]
        messages.append(doc)
    return conversation, messages


def assert_stored_as_parsed(
    stored: list[ParsedConversation], expected: list[ParsedConversation], user: str
) -> None:
    """What the database holds is, message by message, what the parser produced."""
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert without_ids(got) == without_ids(want), want.conversation.get("title")
        assert got.conversation["user"] == user
        assert all(m["user"] == user for m in got.messages)
        assert all(m["conversationId"] == got.conversation["conversationId"] for m in got.messages)
        # The conversation lists its messages' ObjectIds, as LibreChat keeps it.
        assert got.conversation["messages"] == [m["_id"] for m in got.messages]
        assert_parents_first(got)


def assert_parents_first(parsed: ParsedConversation) -> None:
    """Every parent is stored before its children, so trees rebuild in one pass."""
    seen: set[str] = set()
    for message in parsed.messages:
        parent = message["parentMessageId"]
        assert parent == NO_PARENT or parent in seen
        seen.add(message["messageId"])
