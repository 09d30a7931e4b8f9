"""conversationEvents over graphql-transport-ws: auth, delivery, isolation, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.events import LocalEvents, RedisEvents, decode_event, encode_event
from app.main import create_app
from app.settings import Settings
from resolvers.events import ConversationEvent, EventsOverflow
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import ALICE, BOB, auth, insert_conversation, token
from tests.utils.servers import running
from tests.utils.ws import GraphQLWS, graphql_ws

REDIS_URI = "redis://127.0.0.1:6379/0"

EVENTS = """subscription($kinds: [ConversationEventKind!]) {
  conversationEvents(kinds: $kinds) { kind conversationIds conversation { title } }
}"""

RENAME = """mutation($id: String!, $title: String!) {
  updateConversationTitle(conversationId: $id, title: $title) { title }
}"""


@contextlib.asynccontextmanager
async def served(settings: Settings, database: Database) -> AsyncIterator[tuple[str, Starlette]]:
    app = create_app(settings, database=database)
    async with running(app) as base:
        yield base, app


def _local(app: Starlette) -> LocalEvents:
    events = app.state.events
    return events.local if isinstance(events, RedisEvents) else events


async def _until_subscribed(app: Starlette, user: str, count: int = 1) -> None:
    # The subscribe message is handled asynchronously: wait until the
    # subscription is registered before causing events.
    for _ in range(1000):
        if _local(app).subscriber_count(user) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("subscription was not registered")


async def _rename(base: str, user: str, cid: str, title: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/graphql",
            json={"query": RENAME, "variables": {"id": cid, "title": title}},
            headers=auth(user),
        )
    assert response.json() == {"data": {"updateConversationTitle": {"title": title}}}


async def _subscribe(ws: GraphQLWS, user: str, variables: dict[str, Any] | None = None) -> None:
    ack = await ws.init({"Authorization": f"Bearer {token(user)}"})
    assert ack == {"type": "connection_ack"}
    await ws.subscribe("1", EVENTS, variables)


@pytest.fixture
def settings_ws(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri)


async def test_updates_are_delivered_with_the_current_conversation(
    settings_ws: Settings, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Before")
    cid = doc["conversationId"]
    async with served(settings_ws, database) as (base, app), graphql_ws(base) as ws:
        await _subscribe(ws, ALICE)
        await _until_subscribed(app, ALICE)
        await _rename(base, ALICE, cid, "After")
        message = await ws.receive()
    assert message == {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "conversationEvents": {
                    "kind": "UPDATED",
                    "conversationIds": [cid],
                    "conversation": {"title": "After"},
                }
            }
        },
    }


async def test_deletes_and_other_kinds_are_delivered(
    settings_ws: Settings, database: Database
) -> None:
    doc = await insert_conversation(database, ALICE, title="Doomed")
    cid = doc["conversationId"]
    async with served(settings_ws, database) as (base, app), graphql_ws(base) as ws:
        await _subscribe(ws, ALICE)
        await _until_subscribed(app, ALICE)
        # Fork, import and title generation publish through the same sink.
        events = app.state.services.events
        await events.publish(ConversationEvent("created", ALICE, (cid,)))
        await events.publish(ConversationEvent("title_generated", ALICE, (cid,)))
        await events.publish(ConversationEvent("imported", ALICE, (cid, "other")))
        # Each event reads the conversation when delivered: receive these
        # before deleting it, or the delete may overtake their reads.
        received = [(await ws.receive())["payload"]["data"]["conversationEvents"] for _ in range(3)]
        async with httpx.AsyncClient(base_url=base) as http:
            await http.post(
                "/graphql",
                json={
                    "query": "mutation($id: String!) { deleteConversation("
                    "conversationId: $id) { deletedCount } }",
                    "variables": {"id": cid},
                },
                headers=auth(ALICE),
            )
        received.append((await ws.receive())["payload"]["data"]["conversationEvents"])
    assert [(e["kind"], e["conversation"]) for e in received] == [
        ("CREATED", {"title": "Doomed"}),
        ("TITLE_GENERATED", {"title": "Doomed"}),
        ("IMPORTED", None),
        ("DELETED", None),
    ]
    assert received[2]["conversationIds"] == [cid, "other"]


async def test_kinds_filter_what_is_delivered(settings_ws: Settings, database: Database) -> None:
    doc = await insert_conversation(database, ALICE)
    cid = doc["conversationId"]
    async with served(settings_ws, database) as (base, app), graphql_ws(base) as ws:
        await _subscribe(ws, ALICE, {"kinds": ["DELETED"]})
        await _until_subscribed(app, ALICE)
        await _rename(base, ALICE, cid, "Ignored")
        await app.state.services.events.publish(ConversationEvent("deleted", ALICE, (cid,)))
        message = await ws.receive()
    assert message["payload"]["data"]["conversationEvents"]["kind"] == "DELETED"


async def test_users_receive_only_their_own_events(
    settings_ws: Settings, database: Database
) -> None:
    alices = (await insert_conversation(database, ALICE))["conversationId"]
    bobs = (await insert_conversation(database, BOB))["conversationId"]
    async with (
        served(settings_ws, database) as (base, app),
        graphql_ws(base) as alice,
        graphql_ws(base) as bob,
    ):
        await _subscribe(alice, ALICE)
        await _subscribe(bob, BOB)
        await _until_subscribed(app, ALICE)
        await _until_subscribed(app, BOB)
        await _rename(base, ALICE, alices, "Alice's")
        alice_got = await alice.receive()
        # Bob's first event must be his own, though Alice's came first.
        await _rename(base, BOB, bobs, "Bob's")
        bob_got = await bob.receive()
    assert alice_got["payload"]["data"]["conversationEvents"]["conversationIds"] == [alices]
    assert bob_got["payload"]["data"]["conversationEvents"]["conversationIds"] == [bobs]
    assert bob_got["payload"]["data"]["conversationEvents"]["conversation"]["title"] == "Bob's"


async def test_events_cross_replicas_through_redis(mongo_uri: str, database: Database) -> None:
    # Two gateways, one Redis channel: subscribe on one, change through the other.
    settings = make_settings(
        mongo_uri, redis_uri=REDIS_URI, events_channel=f"test-events:{uuid.uuid4()}"
    )
    cid = (await insert_conversation(database, ALICE, title="Shared"))["conversationId"]
    async with (
        served(settings, database) as (base_a, app_a),
        served(settings, database) as (base_b, _),
        graphql_ws(base_a) as ws,
    ):
        assert isinstance(app_a.state.events, RedisEvents)
        await _subscribe(ws, ALICE)
        await _until_subscribed(app_a, ALICE)
        await _rename(base_b, ALICE, cid, "Renamed on B")
        message = await ws.receive()
    event = message["payload"]["data"]["conversationEvents"]
    assert event == {
        "kind": "UPDATED",
        "conversationIds": [cid],
        "conversation": {"title": "Renamed on B"},
    }


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Bearer {token(ALICE, secret='x' * 40)}"},
    ],
    ids=["no-payload", "no-token", "malformed", "wrong-secret"],
)
async def test_connection_init_without_a_valid_token_is_closed_4403(
    settings_ws: Settings, database: Database, payload: dict[str, Any] | None
) -> None:
    async with served(settings_ws, database) as (base, _), graphql_ws(base) as ws:
        await ws.send(
            {"type": "connection_init", **({"payload": payload} if payload is not None else {})}
        )
        assert await ws.closed() == (4403, "Forbidden")


async def test_the_connection_closes_when_its_token_expires(
    mongo_uri: str, database: Database
) -> None:
    settings = make_settings(mongo_uri, jwt_leeway_s=0)
    async with served(settings, database) as (base, app), graphql_ws(base) as ws:
        ack = await ws.init({"Authorization": f"Bearer {token(ALICE, ttl_s=2)}"})
        assert ack == {"type": "connection_ack"}
        await ws.subscribe("1", EVENTS)
        await _until_subscribed(app, ALICE)
        assert await ws.closed() == (4403, "Token expired")
        # ...and the subscription went with it.
        for _ in range(1000):
            if _local(app).subscriber_count(ALICE) == 0:
                break
            await asyncio.sleep(0.005)
        assert _local(app).subscriber_count(ALICE) == 0


async def test_subscribing_before_connection_init_is_closed_4401(
    settings_ws: Settings, database: Database
) -> None:
    async with served(settings_ws, database) as (base, _), graphql_ws(base) as ws:
        await ws.subscribe("1", EVENTS)
        assert await ws.closed() == (4401, "Unauthorized")


async def test_the_handshake_authorization_header_also_authenticates(
    settings_ws: Settings, database: Database
) -> None:
    async with served(settings_ws, database) as (base, _), graphql_ws(base, auth(ALICE)) as ws:
        assert await ws.init() == {"type": "connection_ack"}


async def test_the_token_payload_key_also_authenticates(
    settings_ws: Settings, database: Database
) -> None:
    async with served(settings_ws, database) as (base, _), graphql_ws(base) as ws:
        assert await ws.init({"token": token(ALICE)}) == {"type": "connection_ack"}


async def test_legacy_graphql_ws_protocol_is_refused(
    settings_ws: Settings, database: Database
) -> None:
    from websockets.asyncio.client import connect

    async with served(settings_ws, database) as (base, _):
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 4406


async def test_subscriptions_per_connection_are_capped(mongo_uri: str, database: Database) -> None:
    settings = make_settings(mongo_uri, max_subscriptions_per_connection=2)
    async with served(settings, database) as (base, app), graphql_ws(base) as ws:
        await _subscribe(ws, ALICE)
        await ws.subscribe("2", EVENTS)
        await _until_subscribed(app, ALICE, 2)
        await ws.subscribe("3", EVENTS)
        refused = await ws.receive()
    assert refused == {
        "id": "3",
        "type": "error",
        "payload": [{"message": "Subscription limit reached"}],
    }


async def test_a_subscriber_too_far_behind_is_ended_not_buffered() -> None:
    events = LocalEvents(queue_size=2)
    async with events.subscribe(ALICE) as stream:
        for i in range(3):
            await events.publish(ConversationEvent("updated", ALICE, (str(i),)))
        with pytest.raises(EventsOverflow):
            await anext(stream)
    assert events.subscriber_count() == 0


async def test_local_events_fan_out_by_user_and_forget_closed_subscribers() -> None:
    events = LocalEvents()
    async with events.subscribe(ALICE) as a1, events.subscribe(ALICE) as a2:
        async with events.subscribe(BOB) as b:
            await events.publish(ConversationEvent("updated", ALICE, ("c",)))
            await events.publish(ConversationEvent("deleted", BOB, ("d",)))
            assert (await anext(a1)).conversation_ids == ("c",)
            assert (await anext(a2)).conversation_ids == ("c",)
            assert (await anext(b)).kind == "deleted"
        assert events.subscriber_count(BOB) == 0
    assert events.subscriber_count() == 0


def test_events_round_trip_through_the_wire_format_and_junk_is_ignored() -> None:
    event = ConversationEvent("imported", ALICE, ("a", "b"))
    assert decode_event(encode_event(event)) == event
    for junk in (
        b"nope",
        b"[]",
        b'{"kind": "exploded", "user": "u", "ids": []}',
        b'{"kind": "updated", "user": 5, "ids": []}',
        None,
    ):
        assert decode_event(junk) is None
