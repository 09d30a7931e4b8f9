"""The change feed sees every writer's changes, in both modes, across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from storage.change_feed import CHECKPOINTS, Change, ChangeFeed
from storage.database import Database
from tests.utils.factories import ALICE, message_doc

MODES = ["changestream", "poll"]


def _message(text: str) -> dict[str, object]:
    """A message as LibreChat writes it now (timestamps: true stamps updatedAt)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return message_doc(ALICE, "c1", text=text, created_at=now)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.gaps = 0
        self.arrived = asyncio.Condition()

    async def handle(self, changes: Sequence[Change]) -> None:
        async with self.arrived:
            self.changes.extend(changes)
            self.arrived.notify_all()

    async def gap(self) -> None:
        self.gaps += 1

    def texts(self) -> set[str]:
        return {
            c.document["text"]
            for c in self.changes
            if c.collection == "messages" and c.document and "text" in c.document
        }

    async def wait_for_text(self, text: str, timeout_s: float = 10) -> None:
        async with asyncio.timeout(timeout_s), self.arrived:
            await self.arrived.wait_for(lambda: text in self.texts())


def _feed(database: Database, mode: str, recorder: Recorder, checkpoint: str | None) -> ChangeFeed:
    feed = ChangeFeed(database, mode=mode, poll_s=0.1, checkpoint=checkpoint)
    feed.subscribe(recorder.handle)
    feed.on_gap(recorder.gap)
    return feed


@pytest.mark.parametrize("mode", MODES)
async def test_a_message_written_straight_to_mongodb_reaches_the_feed(
    database: Database, mode: str
) -> None:
    recorder = Recorder()
    feed = _feed(database, mode, recorder, None)
    feed.start()
    try:
        await asyncio.wait_for(feed.reading.wait(), 10)
        await database.messages.insert_one(_message("from LibreChat"))
        await recorder.wait_for_text("from LibreChat")
        assert feed.mode_in_use == mode
        assert recorder.gaps == 1  # no checkpoint: whatever came before is unknown
    finally:
        await feed.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_changes_made_while_stopped_are_caught_up_after_a_restart(
    database: Database, mode: str
) -> None:
    first = Recorder()
    feed = _feed(database, mode, first, "test")
    feed.start()
    await asyncio.wait_for(feed.reading.wait(), 10)
    await database.messages.insert_one(_message("before"))
    await first.wait_for_text("before")
    await feed.stop()
    assert await database.db[CHECKPOINTS].count_documents({"_id": "test"}) == 1

    await database.messages.insert_one(_message("while down"))
    second = Recorder()
    feed = _feed(database, mode, second, "test")
    feed.start()
    try:
        await second.wait_for_text("while down")
        assert second.gaps == 0  # resumed: nothing was missed
    finally:
        await feed.stop()


async def test_auto_uses_change_streams_where_the_server_offers_them(
    database: Database,
) -> None:
    recorder = Recorder()
    feed = _feed(database, "auto", recorder, None)
    feed.start()
    try:
        await asyncio.wait_for(feed.reading.wait(), 10)
        assert feed.mode_in_use == "changestream"
    finally:
        await feed.stop()


async def test_an_unknown_resume_token_starts_over_and_reports_a_gap(database: Database) -> None:
    await database.db[CHECKPOINTS].insert_one({"_id": "test", "token": {"_data": "00"}})
    recorder = Recorder()
    feed = _feed(database, "changestream", recorder, "test")
    feed.start()
    try:
        await asyncio.wait_for(feed.reading.wait(), 10)
        await database.messages.insert_one(_message("after"))
        await recorder.wait_for_text("after")
        assert recorder.gaps == 1
    finally:
        await feed.stop()
