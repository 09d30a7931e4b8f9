"""Two gateway replicas on one database and one Redis behave as one gateway.

Each replica is a full app (``create_app``) served by its own uvicorn on its
own loopback port; they share the MongoDB database and Redis, as replicas
behind a load balancer do. Proved here: one user's concurrent tag changes
spread over both keep exact counts and contiguous positions (the per-user tag
lock lives in Redis, with a lease), and rate limits, persisted queries, events
and titles are shared. The feature files go deeper on each of the latter
(tests/app/test_rate_limits.py, test_persisted_queries.py,
test_subscriptions.py, tests/rest_compat/test_gen_title.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from app.graphql.persisted_queries import REDIS_PREFIX
from app.main import create_app
from app.settings import Settings
from resolvers.adapters.redis_locks import RedisUserLocks
from resolvers.adapters.services import Services
from resolvers.operations.locks import UserLocks, UserLockTimeout
from resolvers.titles.operation import schedule_titles
from storage.database import Database
from tests.conftest import make_settings
from tests.utils.factories import auth, insert_conversation, insert_thread, token
from tests.utils.invariants import check_invariants
from tests.utils.servers import running
from tests.utils.ws import graphql_ws

REDIS_URI = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]
FAST_TITLE_WAITS = (0.02, 0.05, 0.1, 0.2, 0.4)


@dataclass
class Replica:
    app: Starlette
    base_url: str
    http: httpx.AsyncClient

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services


def _user() -> str:
    # A user of this test alone: other suites sharing the Redis never contend.
    return str(bson.ObjectId())


def replica_settings(mongo_uri: str, *, redis: bool = True, **overrides: Any) -> Settings:
    if not redis:
        return make_settings(mongo_uri, **overrides)
    return make_settings(
        mongo_uri,
        redis_uri=REDIS_URI,
        rate_limit_storage_uri=REDIS_URI,
        rate_limit_key_prefix=f"test-replicas:{uuid.uuid4()}",
        events_channel=f"test-replicas:{uuid.uuid4()}",
        **overrides,
    )


@contextlib.asynccontextmanager
async def two_replicas(
    settings: Settings, database: Database
) -> AsyncIterator[tuple[Replica, Replica]]:
    async with contextlib.AsyncExitStack() as stack:
        replicas: list[Replica] = []
        for _ in range(2):
            app = create_app(settings, database=database)
            base = await stack.enter_async_context(running(app))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base))
            replica = Replica(app, base, http)
            replica.services.title_wait_delays = FAST_TITLE_WAITS
            replicas.append(replica)
        yield replicas[0], replicas[1]


@pytest.fixture
async def pair(mongo_uri: str, database: Database) -> AsyncIterator[tuple[Replica, Replica]]:
    async with two_replicas(replica_settings(mongo_uri, fork_user_max=2), database) as both:
        yield both


# --- the per-user tag lock ------------------------------------------------------


async def test_one_users_concurrent_tag_edits_over_two_replicas_keep_counts_and_positions(
    pair: tuple[Replica, Replica], database: Database
) -> None:
    user = _user()
    ids = [(await insert_conversation(database, user))["conversationId"] for _ in range(6)]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        *(("POST", "/api/tags", {"tag": f"t{i}"}) for i in range(12)),
        *(
            ("PUT", f"/api/tags/convo/{cid}", {"tags": [f"t{j}", "shared"]})
            for j, cid in enumerate(ids)
        ),
        *(("POST", f"/api/tags/convo/{cid}", {"tag": "extra"}) for cid in ids[:4]),
    ]

    async def send(index: int, method: str, path: str, body: dict[str, Any]) -> int:
        # Alternate replicas: every other request of the same user lands on the other one.
        replica = pair[index % 2]
        response = await replica.http.request(method, path, json=body, headers=auth(user))
        return response.status_code

    statuses = await asyncio.gather(
        *(send(i, method, path, body) for i, (method, path, body) in enumerate(requests))
    )
    assert set(statuses) == {200}
    tags = await database.tags.find({"user": user}).to_list(None)
    assert sorted(t["position"] for t in tags) == list(range(14))  # t0..t11, shared, extra
    counts = {t["tag"]: t["count"] for t in tags}
    assert counts == {**{f"t{i}": int(i < 6) for i in range(12)}, "shared": 6, "extra": 4}
    await check_invariants(database, user)


async def test_a_users_tag_change_waits_while_another_replica_holds_the_lock(
    mongo_uri: str, database: Database
) -> None:
    settings = replica_settings(mongo_uri, tag_lock_wait_s=0.3)
    user = _user()
    async with two_replicas(settings, database) as (first, second):
        assert isinstance(second.services.locks, RedisUserLocks)
        async with first.services.locks.hold(user):
            refused = await second.http.post("/api/tags", json={"tag": "b"}, headers=auth(user))
        assert refused.status_code == 503
        assert refused.json() == {"error": "Service unavailable"}
        assert await database.tags.count_documents({"user": user}) == 0
        # Released: the same request goes through.
        created = await second.http.post("/api/tags", json={"tag": "b"}, headers=auth(user))
        assert created.status_code == 200 and created.json()["position"] == 0


async def test_per_process_locks_do_not_exclude_another_replica(
    mongo_uri: str, database: Database
) -> None:
    """The contrast that makes the test above meaningful: without Redis each
    replica has its own lock, and the other replica's change runs inside it."""
    user = _user()
    async with two_replicas(replica_settings(mongo_uri, redis=False), database) as (a, b):
        assert isinstance(a.services.locks, UserLocks)
        async with a.services.locks.hold(user):
            created = await b.http.post("/api/tags", json={"tag": "b"}, headers=auth(user))
            assert created.status_code == 200


_HOLDER = """
import asyncio, sys
from redis.asyncio import Redis
from resolvers.adapters.redis_locks import RedisUserLocks

async def main() -> None:
    locks = RedisUserLocks(Redis.from_url(sys.argv[1]), lease_s=float(sys.argv[3]))
    async with locks.hold(sys.argv[2]):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_replica_killed_while_holding_a_users_lock_frees_it_after_the_lease(
    pair: tuple[Replica, Replica], database: Database
) -> None:
    user = _user()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, REDIS_URI, user, "1.0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 60)
        assert line == b"held\n"
        redis = Redis.from_url(REDIS_URI)
        try:
            key = RedisUserLocks(redis).key(user)
            assert await redis.pttl(key) > 0  # held, with a lease
        finally:
            await redis.aclose()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # The dead holder never releases: its lease (1 s) ends well inside the
    # replica's wait (TAG_LOCK_WAIT_S, 30 s), so the change goes through.
    created = await pair[0].http.post("/api/tags", json={"tag": "after"}, headers=auth(user))
    assert created.status_code == 200
    await check_invariants(database, user)


async def test_a_live_holder_keeps_the_lock_past_its_lease() -> None:
    user = _user()
    redis = Redis.from_url(REDIS_URI)
    try:
        holder = RedisUserLocks(redis, lease_s=1.5)
        other = RedisUserLocks(redis, lease_s=1.5, wait_s=0.2)
        async with holder.hold(user):
            # Two leases long: without renewal (every 0.5 s) the key would be gone.
            await asyncio.sleep(3.0)
            with pytest.raises(UserLockTimeout):
                async with other.hold(user):
                    pass
        assert await redis.exists(holder.key(user)) == 0  # released on exit
    finally:
        await redis.aclose()


async def test_a_hung_redis_fails_the_lock_after_the_wait() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accepted, read, never answered: a hung Redis
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis(host="127.0.0.1", port=port)
    try:

        async def enter() -> None:
            async with RedisUserLocks(redis, wait_s=0.3).hold(_user()):
                pass

        # The outer bound only turns a hang (the bug) into a failure.
        with pytest.raises(UserLockTimeout):
            await asyncio.wait_for(enter(), 30)
    finally:
        await redis.aclose()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


# --- shared state: rate limits, persisted queries, events, titles --------------


async def test_replicas_share_one_fork_budget(
    pair: tuple[Replica, Replica], database: Database
) -> None:
    user = _user()
    cid = (await insert_conversation(database, user))["conversationId"]
    body = {"conversationId": cid}
    first, second = pair
    assert (
        await first.http.post("/api/convos/duplicate", json=body, headers=auth(user))
    ).status_code == 201
    assert (
        await second.http.post("/api/convos/duplicate", json=body, headers=auth(user))
    ).status_code == 201
    refused = await first.http.post("/api/convos/duplicate", json=body, headers=auth(user))
    assert refused.status_code == 429
    assert await database.conversations.count_documents({"user": user}) == 3


async def test_a_query_persisted_on_one_replica_runs_by_hash_on_the_other(
    pair: tuple[Replica, Replica],
) -> None:
    user = _user()
    query = f"# {uuid.uuid4()}\n{{ tags {{ tag }} }}"
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    first, second = pair
    try:
        registered = await first.http.post(
            "/graphql", json={"query": query, "extensions": extensions}, headers=auth(user)
        )
        assert registered.json() == {"data": {"tags": []}}
        hit = await second.http.post(
            "/graphql", json={"extensions": extensions}, headers=auth(user)
        )
        assert hit.status_code == 200 and hit.json() == {"data": {"tags": []}}
    finally:
        redis = Redis.from_url(REDIS_URI)
        await redis.delete(REDIS_PREFIX + digest)
        await redis.aclose()


async def test_a_change_on_one_replica_reaches_a_subscriber_of_the_other(
    pair: tuple[Replica, Replica], database: Database
) -> None:
    user = _user()
    cid = (await insert_conversation(database, user, title="Before"))["conversationId"]
    first, second = pair
    subscription = "subscription { conversationEvents { kind conversationIds } }"
    async with graphql_ws(first.base_url) as ws:
        assert await ws.init({"Authorization": f"Bearer {token(user)}"}) == {
            "type": "connection_ack"
        }
        await ws.subscribe("1", subscription)
        events = first.app.state.events
        for _ in range(1000):  # the subscribe message is handled asynchronously
            if events.local.subscriber_count(user):
                break
            await asyncio.sleep(0.005)
        renamed = await second.http.post(
            "/api/convos/update",
            json={"arg": {"conversationId": cid, "title": "After"}},
            headers=auth(user),
        )
        assert renamed.status_code == 201
        message = await ws.receive()
    assert message["payload"]["data"]["conversationEvents"] == {
        "kind": "UPDATED",
        "conversationIds": [cid],
    }


async def test_a_title_generated_on_one_replica_is_served_by_the_other(
    pair: tuple[Replica, Replica], database: Database
) -> None:
    user = _user()
    doc = await insert_conversation(database, user, title="New Chat")
    cid = str(doc["conversationId"])
    await insert_thread(database, user, cid, ["How do I cook rice?", "Rinse it, then simmer."])
    first, second = pair
    titles = first.services.titles
    assert titles is not None
    await schedule_titles(first.services, user, [{"conversationId": cid, "title": "New Chat"}])
    await titles.drain()
    response = await second.http.get(f"/api/convos/gen_title/{cid}", headers=auth(user))
    assert response.status_code == 200
    stored = await database.conversations.find_one({"conversationId": cid})
    assert stored is not None and response.json()["title"] == stored["title"] != "New Chat"
