"""One event costs one read of its conversation, however many subscriptions receive it.

Every subscriber of a user gets the same event object; the first subscription
that resolves ``conversation { messages tags }`` reads them and the others
reuse that read. Before, each subscription read the conversation and all its
messages again: one pin toggle on a 20,000-message conversation with 2 sockets
x 10 subscriptions pushed 53 MB out of 20 reads.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from app.events import LocalEvents
from app.main import create_app
from app.settings import Settings
from resolvers.operations.events import ConversationEvent
from storage.database import Database, connect
from tests.utils.commands import CommandLog
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, insert_thread, token
from tests.utils.servers import running
from tests.utils.ws import GraphQLWS, graphql_ws

EVENTS = """subscription {
  conversationEvents { kind conversation { title pinned tags { tag } messages { text } } }
}"""
PIN = """mutation($id: String!) { pinConversation(conversationId: $id, pinned: true) { pinned } }"""
THREAD = ["q1", "a1", "q2", "a2"]


async def _until_subscribed(events: LocalEvents, count: int) -> None:
    for _ in range(1000):
        if events.subscriber_count(ALICE) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("subscriptions were not registered")


async def _reads_for_one_pin(
    settings: Settings, mongo_uri: str, db_name: str, cid: str, sockets: int, per_socket: int
) -> dict[str, int]:
    """Reads per collection while ``sockets`` x ``per_socket`` subscriptions get one pin."""
    log = CommandLog()
    counted = connect(mongo_uri, db_name=db_name, event_listeners=[log])
    app = create_app(settings, database=counted)
    try:
        async with running(app) as base, contextlib.AsyncExitStack() as stack:
            connections: list[GraphQLWS] = []
            for _ in range(sockets):
                ws = await stack.enter_async_context(graphql_ws(base))
                assert await ws.init({"Authorization": f"Bearer {token(ALICE)}"}) == {
                    "type": "connection_ack"
                }
                for i in range(per_socket):
                    await ws.subscribe(str(i), EVENTS)
                connections.append(ws)
            await _until_subscribed(app.state.events, sockets * per_socket)
            log.take()
            async with httpx.AsyncClient(base_url=base) as http:
                response = await http.post(
                    "/graphql", json={"query": PIN, "variables": {"id": cid}}, headers=auth(ALICE)
                )
            assert response.json() == {"data": {"pinConversation": {"pinned": True}}}
            for ws in connections:
                for _ in range(per_socket):
                    message = await ws.receive()
                    event = message["payload"]["data"]["conversationEvents"]
                    assert event["conversation"]["pinned"] is True
                    assert [m["text"] for m in event["conversation"]["messages"]] == THREAD
                    assert event["conversation"]["tags"] == [{"tag": "work"}]
            commands = log.take()
    finally:
        await counted.close()
    return {
        collection: log.reads_of(commands, collection)
        for collection in ("conversations", "messages", "conversationtags")
    }


async def test_one_event_reads_once_whatever_the_number_of_subscriptions(
    settings: Settings, mongo_uri: str, db_name: str, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="big", tags=["work"])
    await insert_thread(database, ALICE, doc["conversationId"], THREAD)
    await database.tags.insert_one({"tag": "work", "user": ALICE, "count": 1, "position": 0})
    one = await _reads_for_one_pin(settings, mongo_uri, db_name, doc["conversationId"], 1, 1)
    await database.conversations.update_one({"_id": doc["_id"]}, {"$set": {"pinned": False}})
    many = await _reads_for_one_pin(settings, mongo_uri, db_name, doc["conversationId"], 2, 10)
    assert many == one
    assert one["messages"] == 1
    assert one["conversationtags"] == 1


async def test_an_events_shared_reads_end_when_every_subscriber_has_taken_it() -> None:
    events = LocalEvents()
    event = ConversationEvent("updated", ALICE, ("c",))
    async with events.subscribe(ALICE) as a, events.subscribe(ALICE) as b:
        await events.publish(event)
        first = event.shared.get("read", object)
        assert await anext(a) is event and await anext(b) is event
        assert event.shared.get("read", object) is first  # shared while delivered
        await events.publish(ConversationEvent("updated", ALICE, ("c",)))
        await anext(a), await anext(b)  # both asked for the next: the first is done
    assert event.shared.get("read", object) is not first


async def test_a_newer_event_of_the_user_ends_the_sharing_of_an_older_one() -> None:
    """A slow subscriber does not keep old snapshots alive; it reads for itself."""
    events = LocalEvents()
    older = ConversationEvent("updated", ALICE, ("c",))
    async with events.subscribe(ALICE):  # never consumes
        await events.publish(older)
        kept = older.shared.get("read", object)
        assert older.shared.get("read", object) is kept
        await events.publish(ConversationEvent("updated", BOB, ("d",)))  # another user's
        assert older.shared.get("read", object) is kept
        await events.publish(ConversationEvent("updated", ALICE, ("c",)))
        assert older.shared.get("read", object) is not older.shared.get("read", object)


@pytest.mark.parametrize("queue_size", [1])
async def test_events_dropped_by_an_overflow_release_their_reads(queue_size: int) -> None:
    events = LocalEvents(queue_size=queue_size)
    event = ConversationEvent("updated", ALICE, ("c",))
    async with events.subscribe(ALICE):
        await events.publish(event)
        kept = event.shared.get("read", object)
        assert event.shared.get("read", object) is kept
        # The next event overflows the queue: the queued one is dropped.
        await events.publish(ConversationEvent("updated", ALICE, ("c",)))
        assert event.shared.get("read", object) is not kept
