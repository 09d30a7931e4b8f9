"""conversationEvents sees every writer: changes made straight in MongoDB, as
LibreChat makes them, reach the owner's subscription (issue 10, item 3)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette

from app.settings import Settings
from storage.database import Database
from tests.app.test_subscriptions import (
    _rename,
    _subscribe,
    _until_subscribed,
    served,
)
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, insert_conversation, message_doc
from tests.utils.ws import GraphQLWS, graphql_ws

MODES = ["changestream", "poll"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _feed_reading(app: Starlette) -> None:
    await asyncio.wait_for(app.state.feed.feed.reading.wait(), 10)


async def _next_event(ws: GraphQLWS) -> dict[str, object]:
    message = await ws.receive()  # bounded wait (tests/utils/ws.py), no timing assertion
    assert message["type"] == "next", message
    payload = message["payload"]
    assert isinstance(payload, dict)
    event = payload["data"]["conversationEvents"]
    assert isinstance(event, dict)
    return event


@pytest.mark.parametrize("mode", MODES)
async def test_a_message_written_straight_to_mongodb_produces_an_event_for_its_owner_only(
    mongo_uri: str, database: Database, mode: str
) -> None:
    settings: Settings = make_settings(mongo_uri, change_feed=mode, change_feed_poll_s=0.2)
    doc = await insert_conversation(database, ALICE, title="Chat", updatedAt=_now())
    cid = doc["conversationId"]
    async with (
        served(settings, database) as (base, app),
        graphql_ws(base) as alice,
        graphql_ws(base) as bob,
    ):
        await _subscribe(alice, ALICE)
        await _subscribe(bob, BOB)
        await _until_subscribed(app, ALICE)
        await _until_subscribed(app, BOB)
        await _feed_reading(app)
        # As LibreChat saves a chat turn: the message, then the conversation.
        await database.messages.insert_one(
            message_doc(ALICE, cid, text="hello from LibreChat", created_at=_now())
        )
        event = await _next_event(alice)
        assert event == {
            "kind": "UPDATED",
            "conversationIds": [cid],
            "conversation": {"title": "Chat"},
        }
        # Bob's subscription saw nothing: the next thing it gets is its own event.
        bob_doc = await insert_conversation(database, BOB, title="Bob's", updatedAt=_now())
        bob_event = await _next_event(bob)
        assert bob_event["conversationIds"] == [bob_doc["conversationId"]]
        assert bob_event["kind"] == ("CREATED" if mode == "changestream" else "UPDATED")


async def test_a_change_made_through_the_gateway_is_announced_once(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, change_feed="changestream")
    doc = await insert_conversation(database, ALICE, title="Before")
    cid = doc["conversationId"]
    other = (await insert_conversation(database, ALICE, title="Other"))["conversationId"]
    async with served(settings, database) as (base, app), graphql_ws(base) as ws:
        await _subscribe(ws, ALICE)
        await _until_subscribed(app, ALICE)
        await _feed_reading(app)
        await _rename(base, ALICE, cid, "After")
        first = await _next_event(ws)
        assert first["conversationIds"] == [cid]
        feed = app.state.feed.feed
        async with asyncio.timeout(10):
            while feed.changes_seen < 1:  # the feed has read the rename's echo
                await asyncio.sleep(0.02)
        # A later change to another conversation is the next event: the
        # rename's echo from the feed was not delivered a second time.
        await database.messages.insert_one(message_doc(ALICE, other, text="x", created_at=_now()))
        second = await _next_event(ws)
        assert second["kind"] == "UPDATED" and second["conversationIds"] == [other]
