"""Property: the indexed search returns exactly the set and order the scan
returns, on random data and queries (unicode case pairs, regex characters,
short and long terms), before and after random writes made straight to
MongoDB and read back through the change feed (issue 10, item 2)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from resolvers.adapters.services import Services
from resolvers.operations.conversations import ListQuery, list_conversations
from storage.change_feed import ChangeFeed
from storage.database import Database, Document
from storage.search_index import SearchIndex
from tests.utils.factories import ALICE, BASE_TIME, BOB, conversation_doc, message_doc

# Case pairs a case-insensitive regex joins, regex metacharacters, quotes.
ALPHABET = "aAbBéÉßẞİiıIſsSKkσςΣ .*+?()[]{}|\\^$\"'-—日本"
OTHER_CASE = {
    "a": "A",
    "A": "a",
    "b": "B",
    "B": "b",
    "é": "É",
    "É": "é",
    "ß": "ẞ",
    "ẞ": "ß",
    "σ": "Σ",
    "ς": "Σ",
    "Σ": "ς",
    "s": "ſ",
    "ſ": "S",
    "S": "s",
    "k": "K",
    "K": "k",
    "i": "I",
    "I": "i",
    "İ": "i",
    "ı": "I",
}
texts = st.text(alphabet=ALPHABET, min_size=0, max_size=24)
PROPERTY_SETTINGS = settings(
    max_examples=30,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def followed(database: Database) -> AsyncIterator[tuple[SearchIndex, ChangeFeed]]:
    index = SearchIndex(None)
    feed = ChangeFeed(database, mode="changestream", checkpoint=None)

    async def apply(changes: Any) -> None:
        await index.apply(database, changes)

    feed.subscribe(apply)
    feed.start()
    await asyncio.wait_for(feed.reading.wait(), 10)
    try:
        yield index, feed
    finally:
        await feed.stop()
        index.close()


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[Document], list[Document]]:
    conversations: list[Document] = []
    messages: list[Document] = []
    for i in range(draw(st.integers(1, 6))):
        conversation = conversation_doc(
            ALICE if i % 4 != 3 else BOB,
            title=draw(texts),
            tags=draw(st.lists(texts, max_size=2)),
            isArchived=draw(st.booleans()),
            _id=ObjectId(),
        )
        if draw(st.integers(0, 7)) == 0:
            conversation["expiredAt"] = BASE_TIME  # temporary: never listed
        conversations.append(conversation)
        for _ in range(draw(st.integers(0, 4))):
            fields: dict[str, Any] = {}
            if draw(st.booleans()):
                fields["content"] = [
                    {"type": "text", "text": t} for t in draw(st.lists(texts, max_size=2))
                ]
            messages.append(
                message_doc(
                    conversation["user"],
                    conversation["conversationId"],
                    text=draw(texts),
                    _id=ObjectId(),
                    **fields,
                )
            )
    return conversations, messages


@st.composite
def queries(draw: st.DrawFn, data: tuple[list[Document], list[Document]]) -> list[str]:
    sources = [m["text"] for m in data[1]] + [c["title"] for c in data[0]]
    found: list[str] = []
    for _ in range(4):
        source = draw(st.sampled_from(sources)) if sources and draw(st.booleans()) else ""
        if source:
            start = draw(st.integers(0, len(source) - 1))
            end = draw(st.integers(start + 1, len(source)))
            term = source[start:end]
            if draw(st.booleans()):
                # The same term in other cases: only a case-insensitive match finds it.
                term = "".join(OTHER_CASE.get(c, c) if draw(st.booleans()) else c for c in term)
            found.append(term)
        else:
            found.append(draw(st.text(alphabet=ALPHABET, min_size=1, max_size=6)))
    return found


@st.composite
def writes(draw: st.DrawFn) -> list[tuple[str, int, str]]:
    kinds = st.sampled_from(["insert", "edit", "delete", "rename", "archive"])
    return draw(st.lists(st.tuples(kinds, st.integers(0, 100), texts), max_size=6))


async def _results(services: Services, term: str) -> list[list[str]]:
    pages = []
    for archived in (False, True):
        page = await list_conversations(
            services, ALICE, ListQuery(search=term, limit=100, is_archived=archived)
        )
        pages.append([d["conversationId"] for d in page.items])
    return pages


async def _same_as_scan(database: Database, index: SearchIndex, terms: list[str]) -> None:
    scan = Services(database=database)
    indexed = Services(database=database, search_index=index)
    for term in terms:
        if not term.strip():
            continue
        assert await _results(indexed, term) == await _results(scan, term), repr(term)


async def _apply(
    database: Database, data: tuple[list[Document], list[Document]], ops: list[tuple[str, int, str]]
) -> None:
    conversations, messages = data
    for kind, n, text in ops:
        conversation = conversations[n % len(conversations)]
        if kind == "insert":
            doc = message_doc(
                conversation["user"], conversation["conversationId"], text=text, _id=ObjectId()
            )
            await database.messages.insert_one(doc)
            messages.append(doc)
        elif kind in ("edit", "delete") and messages:
            message = messages[n % len(messages)]
            if kind == "edit":
                await database.messages.update_one(
                    {"_id": message["_id"]}, {"$set": {"text": text}}
                )
                message["text"] = text
            else:
                await database.messages.delete_one({"_id": message["_id"]})
                messages.remove(message)
        elif kind == "rename":
            await database.conversations.update_one(
                {"_id": conversation["_id"]}, {"$set": {"title": text}}
            )
        elif kind == "archive":
            await database.conversations.update_one(
                {"_id": conversation["_id"]}, {"$set": {"isArchived": True}}
            )


async def _caught_up(database: Database, index: SearchIndex) -> None:
    """Write a sentinel after the writes; the feed is ordered, so once the
    index finds it, it has seen every write before it."""
    sentinel = f"sentinel{uuid.uuid4().hex}"
    await database.messages.insert_one(message_doc(BOB, "sentinel", text=sentinel, _id=ObjectId()))
    async with asyncio.timeout(10):
        while not await index.conversations_matching(database, BOB, sentinel):
            await asyncio.sleep(0.02)


@given(data=st.data())
@PROPERTY_SETTINGS
async def test_indexed_search_returns_what_the_scan_returns_before_and_after_writes(
    database: Database, followed: tuple[SearchIndex, ChangeFeed], data: st.DataObject
) -> None:
    index, _ = followed
    dataset = data.draw(datasets())
    await database.conversations.delete_many({})
    await database.messages.delete_many({})
    await database.conversations.insert_many([dict(c) for c in dataset[0]])
    if dataset[1]:
        await database.messages.insert_many([dict(m) for m in dataset[1]])
    await index.rebuild(database)
    assert index.ready
    await _same_as_scan(database, index, data.draw(queries(dataset)))

    await _apply(database, dataset, data.draw(writes()))
    await _caught_up(database, index)
    await _same_as_scan(database, index, data.draw(queries(dataset)))
