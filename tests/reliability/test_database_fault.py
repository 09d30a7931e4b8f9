"""The embedded database (SecantusDB) killed with SIGKILL mid-load and
restarted on the same data directory and port, under a real gateway process.

While it is down REST answers 503 ``{"error": "Service unavailable"}`` and no
request is dropped or answered 500; once it is back every request succeeds
again, and every write the gateway acknowledged (a 2xx) is in the database:
renames, new tags on a conversation, forks and duplicates with exactly the
messages they answered with. Writes that were refused or cut off may or may
not have landed; they are checked against what they could have done.

``make test`` kills it once; ``--run-slow`` three times, with longer phases.
Run with ``-s`` to see the figures (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from storage.database import Database, connect
from storage.embedded import EmbeddedServer, free_port
from storage.indexes import ensure_indexes
from tests.utils.factories import insert_conversation, insert_thread, token
from tests.utils.gateway import HIGH_LIMITS, gateway_process
from tests.utils.invariants import (
    STRAY_MESSAGE,
    TAG_WITHOUT_DOCUMENT,
    WRONG_COUNT,
    survey_store,
)
from tests.utils.load import TRANSPORT_ERROR, USERS, Load

UNAVAILABLE = {"error": "Service unavailable"}
CLIENTS, PHASE_S, CYCLES = 30, 3.0, 1
SLOW_CLIENTS, SLOW_PHASE_S, SLOW_CYCLES = 60, 10.0, 3
# Short, so that requests while the database is down are answered quickly.
MONGO_TIMEOUT_MS = 1000
OK = frozenset({200, 201})
GRAPHQL_OPS = ("rename_graphql", "graphql_page")
# What the upload path of the GraphQL view already answers when a dependency
# is down; the code a client can retry on.
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
RENAME = "mutation($c: String!, $t: String!) { updateConversationTitle(conversationId: $c, title: $t) { title } }"  # noqa: E501
PAGE = "query { conversations(first: 10) { totalCount edges { node { conversationId } } } }"


@dataclass
class Title:
    """A conversation's acknowledged title and the attempts whose outcome is unknown."""

    acked: str
    unknown: set[str] = field(default_factory=set)


@dataclass
class Acks:
    """Every write the gateway acknowledged, and what it must have left behind."""

    titles: dict[str, Title] = field(default_factory=dict)
    tags: list[tuple[str, str, str]] = field(default_factory=list)  # user, tag, conversation
    copies: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # id: user, messages
    # When each acknowledged write was answered: (phase, op), for reports.
    when: dict[str, tuple[str, str]] = field(default_factory=dict)


class AckClient:
    """One client writing only to its own conversations (so the outcome of
    each write is known), plus reads; one request at a time."""

    def __init__(
        self, load: Load, acks: Acks, user: str, own: list[tuple[str, list[str]]], n: int
    ) -> None:
        self.load, self.acks, self.user, self.own, self.n = load, acks, user, own, n
        self.rng = random.Random(n)
        self.sent = 0
        self.headers = {"Authorization": f"Bearer {token(user, ttl_s=24 * 3600)}"}

    async def request(self, op: str, method: str, path: str, body: Any = None) -> Any:
        """The decoded body of a 2xx answer, else None (the status is counted)."""
        started_in = self.load.phase
        try:
            response = await self.http.request(method, path, json=body, headers=self.headers)
        except httpx.TransportError as exc:
            self.load.record(op, TRANSPORT_ERROR, started_in, repr(exc))
            return None
        figures = self.load.record(op, response.status_code, started_in, response.text)
        if response.status_code not in OK:
            if response.status_code == 503 and path != "/graphql":
                assert response.json() == UNAVAILABLE, response.text
            return None
        data = response.json()
        if path == "/graphql" and data.get("errors"):
            for error in data["errors"]:
                code = (error.get("extensions") or {}).get("code")
                if code is None:
                    figures.graphql_uncoded.append(error.get("message", ""))
                else:
                    figures.graphql_codes[code] += 1
            return None
        return data

    def unique(self) -> str:
        self.sent += 1
        return f"c{self.n}-{self.sent}"

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.load.base_url, timeout=60.0) as http:
            self.http = http
            while not stop.is_set():
                await self.step()

    async def step(self) -> None:
        cid, messages = self.rng.choice(self.own)
        op = self.rng.choice(["rename", "rename_gql", "tag", "copy", "list", "page"])
        if op in ("rename", "rename_gql"):
            title = self.unique()
            tracked = self.acks.titles[cid]
            if op == "rename":
                body = {"arg": {"conversationId": cid, "title": title}}
                done = await self.request(op, "POST", "/api/convos/update", body)
            else:
                query = {"query": RENAME, "variables": {"c": cid, "t": title}}
                done = await self.request("rename_graphql", "POST", "/graphql", query)
            if done is None:
                tracked.unknown.add(title)
            else:
                # Earlier attempts of this client finished before this one began.
                tracked.acked, tracked.unknown = title, set()
        elif op == "tag":
            name = self.unique()
            body = {"tag": name, "addToConversation": True, "conversationId": cid}
            if await self.request("tag_create", "POST", "/api/tags", body) is not None:
                self.acks.tags.append((self.user, name, cid))
        elif op == "copy":
            if self.rng.random() < 0.5:
                body = {"conversationId": cid, "messageId": self.rng.choice(messages)}
                copy = await self.request("fork", "POST", "/api/convos/fork", body)
            else:
                body = {"conversationId": cid}
                copy = await self.request("duplicate", "POST", "/api/convos/duplicate", body)
            if copy is not None:
                new = copy["conversation"]["conversationId"]
                self.acks.copies[new] = (self.user, [m["messageId"] for m in copy["messages"]])
                self.acks.when[new] = (self.load.phase, op)
        elif op == "list":
            await self.request("list", "GET", "/api/convos?limit=25")
        else:
            await self.request("graphql_page", "POST", "/graphql", {"query": PAGE})


@pytest.fixture
async def killable(tmp_path: Path) -> AsyncIterator[EmbeddedServer]:
    """An embedded server of this test's own on a data directory and fixed port."""
    server = EmbeddedServer(tmp_path / "db", port=free_port(), log_path=tmp_path / "db.log")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def kill(server: EmbeddedServer) -> None:
    """SIGKILL, as the OOM killer or a crash would: no chance to flush anything."""
    # EmbeddedServer only offers a graceful stop; its child's handle is private.
    process = server._process
    assert process is not None and process.poll() is None
    process.kill()
    process.wait()


async def wait_for(http: httpx.AsyncClient, user: str, status: int) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token(user)}"}
    for _ in range(300):
        response = await http.get("/api/convos?limit=1", headers=headers)
        if response.status_code == status:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"the gateway never answered {status}")


async def check_acks(database: Database, acks: Acks) -> dict[str, int]:
    """Every acknowledged write is present; returns how many of each were checked.

    Raises:
        AssertionError: listing every acknowledged write that is missing.
    """
    lost: list[str] = []
    for cid, title in acks.titles.items():
        doc = await database.conversations.find_one({"conversationId": cid})
        if doc is None or doc["title"] not in {title.acked} | title.unknown:
            lost.append(f"title of {cid}: {doc and doc['title']!r}, acknowledged {title}")
    for user, name, cid in acks.tags:
        if await database.tags.find_one({"user": user, "tag": name}) is None:
            lost.append(f"tag document {name!r}")
        doc = await database.conversations.find_one({"conversationId": cid})
        if doc is None or name not in doc["tags"]:
            lost.append(f"tag {name!r} on {cid}")
    for cid, (user, message_ids) in acks.copies.items():
        doc = await database.conversations.find_one({"conversationId": cid, "user": user})
        stored = await database.messages.find({"conversationId": cid}).to_list(None)
        if doc is None or sorted(m["messageId"] for m in stored) != sorted(message_ids):
            lost.append(
                f"copy {cid} answered in {acks.when[cid]}: conversation "
                f"{'present' if doc else 'absent'}, {len(stored)} of {len(message_ids)} messages"
            )
    assert not lost, "\n".join(lost)
    return {
        "titles": len(acks.titles),
        "tags on conversations": len(acks.tags),
        "forks and duplicates with their messages": len(acks.copies),
    }


@pytest.mark.slow
async def test_killed_database_answers_503_then_recovers_with_every_acknowledged_write(
    killable: EmbeddedServer, tmp_path: Path, run_slow: bool
) -> None:
    clients, phase_s, cycles = (
        (SLOW_CLIENTS, SLOW_PHASE_S, SLOW_CYCLES) if run_slow else (CLIENTS, PHASE_S, CYCLES)
    )
    database = connect(killable.uri, db_name="fault", timeout_ms=30_000)
    await ensure_indexes(database)
    acks = Acks()
    owned: list[list[tuple[str, list[str]]]] = []
    for n in range(clients):
        user = USERS[n % len(USERS)]
        mine = []
        for _ in range(2):
            doc = await insert_conversation(database, user, title="start")
            thread = await insert_thread(database, user, doc["conversationId"], ["q", "a", "q2"])
            mine.append((doc["conversationId"], [m["messageId"] for m in thread]))
            acks.titles[doc["conversationId"]] = Title("start")
        owned.append(mine)

    env = {
        # Acknowledged means journaled: without j, SecantusDB (like mongod with
        # j:false) acknowledges a write before its log record leaves the
        # process, and a SIGKILL loses the last ones (docs/reliability.md).
        "MONGO_URI": killable.uri + "&journal=true",
        "MONGO_DB_NAME": "fault",
        "MONGO_TIMEOUT_MS": str(MONGO_TIMEOUT_MS),
        **HIGH_LIMITS,
    }
    down_probes: list[tuple[int, Any]] = []
    async with (
        gateway_process(env, tmp_path / "gateway.log") as gateway,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=60.0) as probe,
    ):
        load = Load(gateway.base_url, USERS, {})
        workers = [
            AckClient(load, acks, USERS[n % len(USERS)], owned[n], n) for n in range(clients)
        ]
        stop = asyncio.Event()
        load.phase = "before"
        runner = asyncio.gather(*(w.run(stop) for w in workers))
        for cycle in range(cycles):
            await asyncio.sleep(phase_s)
            load.phase = f"killing {cycle}"
            await asyncio.to_thread(kill, killable)
            unavailable = await wait_for(probe, USERS[0], 503)
            down_probes.append((unavailable.status_code, unavailable.json()))
            load.phase = "down"
            gql = await probe.post("/graphql", json={"query": PAGE}, headers=workers[0].headers)
            down_probes.append((gql.status_code, gql.json()))
            await asyncio.sleep(phase_s)
            load.phase = f"restarting {cycle}"
            await asyncio.to_thread(killable.start)
            await wait_for(probe, USERS[0], 200)
            load.phase = "after"
        await asyncio.sleep(phase_s)
        stop.set()
        await runner
        alive = gateway.alive
        tracebacks = gateway.tracebacks()
        logged = gateway.warnings().most_common(8)

    lost: list[str] = []
    gaps: list[str] = []
    checked: dict[str, int] = {}
    try:
        try:
            checked.update(await check_acks(database, acks))
        except AssertionError as exc:
            lost.append(str(exc))
        survey = await survey_store(database, USERS)
        checked.update(survey.checked)
    finally:
        await database.client.drop_database("fault")
        await database.close()
    print(f"\ndatabase fault: {clients} clients, {cycles} kill(s), {phase_s:.0f} s phases")
    for phase in sorted(load.figures):
        print(f" phase {phase}:\n{load.figures[phase].report()}")
    print(f" probes while down: {down_probes}")
    print(f" acknowledged writes and invariants checked: {checked}")
    print(f" problems: {dict(survey.problems)}")
    print(f" gateway alive: {alive}; tracebacks in its log: {tracebacks}")
    print(f" its warnings and errors: {logged}")

    total = load.total()
    assert alive
    assert total.by_operation and all(
        TRANSPORT_ERROR not in counts and 500 not in counts
        for counts in total.by_operation.values()
    ), total.samples
    # Before the kill and after the recovery, everything succeeds.
    for phase in ("before", "after"):
        assert load.figures[phase].unexpected(OK) == {}, (phase, load.figures[phase].samples)
        assert load.figures[phase].graphql_codes == {}, phase
    # While it is down, every REST request is a 503 in LibreChat's shape.
    down = load.figures["down"]
    for op, counts in down.by_operation.items():
        if op not in GRAPHQL_OPS:
            assert set(counts) == {503}, (op, counts, down.samples)
    assert down_probes[0] == (503, UNAVAILABLE)
    assert lost == [], lost
    # An operation cut off by the kill may leave a count one short or its
    # messages behind (no transactions; see docs/reliability.md), nothing else.
    assert survey.kinds() <= {WRONG_COUNT, STRAY_MESSAGE, TAG_WITHOUT_DOCUMENT}, survey.problems
    gaps += [f"{kind}: {survey.problems[kind]}" for kind in sorted(survey.kinds())]

    # Known gaps G3 and G4 (docs/reliability.md); each check becomes a hard
    # one once its fix lands.
    _, graphql_down = down_probes[1]
    codes = {(e.get("extensions") or {}).get("code") for e in graphql_down.get("errors", [])}
    if codes != {SERVICE_UNAVAILABLE}:
        gaps.append(
            f"GraphQL while the database is down answers {codes}, not {SERVICE_UNAVAILABLE}"
        )
    if tracebacks:
        gaps.append(f"{tracebacks} tracebacks logged for database outages (REST logs one line)")
    if gaps:
        pytest.xfail("known gaps: " + " | ".join(gaps))
