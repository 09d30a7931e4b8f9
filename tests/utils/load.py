"""A mixed load of LibreChat clients on a live gateway, and its figures.

Many clients per user act on the same conversations and tags at once (list,
get, rename, archive, pin, tags, fork, duplicate, delete, GraphQL pages and a
GraphQL tag mutation), so every race the operations must survive happens:
a conversation deleted while another client tags it, a tag renamed while
another deletes it. Each client sends one request at a time, as fast as the
gateway answers (a closed loop), until told to stop.

Every request is counted by operation and status under the *phase* it started
in (see :class:`Load`), so fault tests can tell what happened while a
dependency was down from what happened around it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from storage.database import Database
from tests.utils.factories import insert_conversation, insert_thread, token

# Five users, LibreChat's ObjectId-string ids.
USERS = tuple(f"6b0a7813319bf155c7d4{n:04x}" for n in range(1, 6))
# Few names, one with a space and a slash: clients collide on them on purpose.
TAG_NAMES = ("work", "home", "a b/c", "later", "q")
FORK_OPTIONS = ("directPath", "includeBranches", "targetLevel")
# A small LibreChat export (two messages) for the import operation.
IMPORT_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "imports" / "librechat_flat.json"

# Expected outcomes under contention: another client of the same user deleted
# the conversation or the tag first (404), or took the new tag name (409).
EXPECTED_REFUSALS = frozenset({404, 409})
EXPECTED_GRAPHQL_CODES = frozenset({"NOT_FOUND", "CONFLICT"})
TRANSPORT_ERROR = 0  # no HTTP answer at all (connection refused, reset, timeout)

DEFAULT_MIX: Mapping[str, int] = {
    "list": 10,
    "get": 8,
    "rename": 8,
    "archive": 3,
    "pin": 6,
    "tag_create": 6,
    "tag_set": 8,
    "tag_rename": 4,
    "tag_delete": 3,
    "fork": 5,
    "duplicate": 5,
    "delete": 7,
    "graphql_page": 10,
    "graphql_set_tags": 4,
    "graphql_fork": 2,
}

PAGE_QUERY = """
query Page($after: String, $archived: Boolean!) {
  conversations(first: 10, after: $after, isArchived: $archived) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { conversationId title pinned tags { tag count } messages { messageId } } }
  }
}"""
MESSAGES_QUERY = (
    "query($c: String!) { conversation(conversationId: $c) { messages { messageId } } }"
)
FORK_MUTATION = """
mutation($c: String!, $m: String!) {
  forkConversation(input: {conversationId: $c, messageId: $m}) {
    conversation { conversationId } messages { messageId }
  }
}"""
SET_TAGS_MUTATION = """
mutation($c: String!, $t: [String!]!) {
  setConversationTags(conversationId: $c, tags: $t) { conversationId tagNames }
}"""


@dataclass
class Figures:
    """Requests by operation and HTTP status; GraphQL error codes apart."""

    by_operation: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    graphql_codes: Counter[str] = field(default_factory=Counter)
    # GraphQL errors without a code (a masked internal error has none).
    graphql_uncoded: list[str] = field(default_factory=list)
    # One response body per (operation, refusal or fault status), for reports.
    samples: dict[tuple[str, int], str] = field(default_factory=dict)
    # The longest answer per operation, in seconds: a figure, never asserted.
    slowest: dict[str, float] = field(default_factory=dict)

    def record(self, op: str, status: int, body: str = "", seconds: float = 0.0) -> None:
        self.by_operation[op][status] += 1
        self.slowest[op] = max(self.slowest.get(op, 0.0), seconds)
        if status not in (200, 201):
            self.samples.setdefault((op, status), body[:300])

    @property
    def statuses(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for counts in self.by_operation.values():
            total.update(counts)
        return total

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def server_errors(self) -> dict[str, Counter[int]]:
        """Operations that got a 5xx or no answer, with those statuses."""
        bad: dict[str, Counter[int]] = {}
        for op, counts in self.by_operation.items():
            worst = Counter({s: n for s, n in counts.items() if s >= 500 or s == TRANSPORT_ERROR})
            if worst:
                bad[op] = worst
        return bad

    def unexpected(self, allowed: Iterable[int]) -> dict[str, Counter[int]]:
        allowed_set = set(allowed)
        bad: dict[str, Counter[int]] = {}
        for op, counts in self.by_operation.items():
            other = Counter({s: n for s, n in counts.items() if s not in allowed_set})
            if other:
                bad[op] = other
        return bad

    def report(self) -> str:
        lines = [f"  requests: {self.requests}, by status: {_fmt(self.statuses)}"]
        for op in sorted(self.by_operation):
            slowest = f"(slowest {self.slowest.get(op, 0.0):.1f} s)"
            lines.append(f"    {op:<18} {_fmt(self.by_operation[op])} {slowest}")
        if self.graphql_codes:
            lines.append(f"  GraphQL error codes: {dict(sorted(self.graphql_codes.items()))}")
        if self.graphql_uncoded:
            lines.append(f"  GraphQL errors without a code: {len(self.graphql_uncoded)}")
        for (op, status), body in sorted(self.samples.items()):
            if status >= 500 or status == TRANSPORT_ERROR:
                lines.append(f"  {op} {status}: {body}")
        return "\n".join(lines)


def _fmt(counts: Counter[int]) -> str:
    return ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))


@dataclass
class UserState:
    """What a user's clients know: conversation id -> message ids seen (shared
    by every client of the user, so they act on the same conversations)."""

    conversations: dict[str, list[str]] = field(default_factory=dict)


class Load:
    """Clients sharing figures by phase; set :attr:`phase` to start a new one.

    A request is counted under the phase it started in when it also ended in
    it, else under ``"transition"``: a request in flight while a dependency
    was stopped proves nothing about either side.
    """

    def __init__(self, base_url: str, users: Iterable[str], mix: Mapping[str, int]) -> None:
        self.base_url = base_url
        self.users = tuple(users)
        self.mix = dict(mix)
        self.phase = "load"
        self.figures: dict[str, Figures] = defaultdict(Figures)
        self.state = {user: UserState() for user in self.users}
        self.clients = 0

    def record(
        self, op: str, status: int, started_in: str, body: str = "", seconds: float = 0.0
    ) -> Figures:
        figures = self.figures[started_in if started_in == self.phase else "transition"]
        figures.record(op, status, body, seconds)
        return figures

    def total(self) -> Figures:
        """Every phase's figures added up."""
        total = Figures()
        for figures in self.figures.values():
            for op, counts in figures.by_operation.items():
                total.by_operation[op].update(counts)
            total.graphql_codes.update(figures.graphql_codes)
            total.graphql_uncoded.extend(figures.graphql_uncoded)
            for key, body in figures.samples.items():
                total.samples.setdefault(key, body)
            for op, seconds in figures.slowest.items():
                total.slowest[op] = max(total.slowest.get(op, 0.0), seconds)
        return total

    async def run(self, clients: int, stop: asyncio.Event, *, seed: int = 0) -> None:
        """Run ``clients`` clients (spread over the users) until ``stop`` is set."""
        self.clients = clients
        workers = [
            LoadClient(self, self.users[i % len(self.users)], random.Random(seed * 1000 + i))
            for i in range(clients)
        ]
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker.run(stop))


class LoadClient:
    """One client: its own connection, one user, one request at a time."""

    def __init__(self, load: Load, user: str, rng: random.Random) -> None:
        self.load = load
        self.user = user
        self.rng = rng
        self.state = load.state[user]
        self.headers = {"Authorization": f"Bearer {token(user, ttl_s=24 * 3600)}"}
        self.cursor: str | None = None
        self.archived = False
        self.ops = list(load.mix)
        self.weights = [load.mix[op] for op in self.ops]

    async def run(self, stop: asyncio.Event) -> None:
        # Generous timeout: under a fault a request may wait for the database's
        # server selection; a timeout would be counted as a transport error.
        async with httpx.AsyncClient(base_url=self.load.base_url, timeout=60.0) as http:
            self.http = http
            while not stop.is_set():
                op = self.rng.choices(self.ops, self.weights)[0]
                await getattr(self, f"op_{op}")()

    # -- plumbing ------------------------------------------------------------
    async def request(
        self,
        op: str,
        method: str,
        path: str,
        body: Any = None,
        params: Any = None,
        files: Any = None,
    ) -> httpx.Response | None:
        started_in = self.load.phase
        started = time.perf_counter()
        try:
            response = await self.http.request(
                method, path, json=body, params=params, files=files, headers=self.headers
            )
        except httpx.TransportError as exc:
            self.load.record(op, TRANSPORT_ERROR, started_in, repr(exc))
            return None
        figures = self.load.record(
            op, response.status_code, started_in, response.text, time.perf_counter() - started
        )
        if path == "/graphql" and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            # Codes of every GraphQL answer, 200 or not (a 503 TIMEOUT has one too).
            for error in response.json().get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                if code is None:
                    figures.graphql_uncoded.append(error.get("message", ""))
                else:
                    figures.graphql_codes[code] += 1
        return response

    async def graphql(
        self, op: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any] | None:
        response = await self.request(
            op, "POST", "/graphql", {"query": query, "variables": variables}
        )
        if response is None or response.status_code != 200:
            return None
        data: dict[str, Any] | None = response.json().get("data")
        return data

    def pick(self) -> str | None:
        if not self.state.conversations:
            return None
        return self.rng.choice(list(self.state.conversations))

    def forget(self, cid: str) -> None:
        self.state.conversations.pop(cid, None)

    def tag(self) -> str:
        return self.rng.choice(TAG_NAMES)

    # -- operations ------------------------------------------------------------
    async def op_list(self) -> None:
        archived = self.rng.random() < 0.2
        response = await self.request(
            "list", "GET", "/api/convos", params={"limit": 25, "isArchived": str(archived).lower()}
        )
        if response is not None and response.status_code == 200:
            for conversation in response.json()["conversations"]:
                self.state.conversations.setdefault(conversation["conversationId"], [])

    async def op_get(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        response = await self.request("get", "GET", f"/api/convos/{cid}")
        if response is not None and response.status_code == 404:
            self.forget(cid)

    async def op_rename(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        title = f"title {self.rng.randrange(10_000)}"
        body = {"arg": {"conversationId": cid, "title": title}}
        await self.request("rename", "POST", "/api/convos/update", body)

    async def op_archive(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        body = {"arg": {"conversationId": cid, "isArchived": self.rng.random() < 0.5}}
        await self.request("archive", "POST", "/api/convos/archive", body)

    async def op_pin(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        body = {"arg": {"conversationId": cid, "pinned": self.rng.random() < 0.5}}
        await self.request("pin", "POST", "/api/convos/pin", body)

    async def op_tag_create(self) -> None:
        cid = self.pick()
        body: dict[str, Any] = {"tag": self.tag(), "description": "made under load"}
        if cid is not None and self.rng.random() < 0.7:
            body.update(addToConversation=True, conversationId=cid)
        await self.request("tag_create", "POST", "/api/tags", body)

    async def op_tag_set(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        tags = self.rng.sample(TAG_NAMES, self.rng.randrange(0, 4))
        await self.request("tag_set", "PUT", f"/api/tags/convo/{cid}", {"tags": tags})

    async def op_tag_rename(self) -> None:
        old, new = self.tag(), self.tag()
        path = "/api/tags/" + quote(old, safe="")
        await self.request("tag_rename", "PUT", path, {"tag": new})

    async def op_tag_delete(self) -> None:
        await self.request("tag_delete", "DELETE", "/api/tags/" + quote(self.tag(), safe=""))

    async def op_fork(self) -> None:
        known = [cid for cid, ids in self.state.conversations.items() if ids]
        if not known:
            return await self.op_graphql_messages()
        cid = self.rng.choice(known)
        body = {
            "conversationId": cid,
            "messageId": self.rng.choice(self.state.conversations[cid]),
            "option": self.rng.choice(FORK_OPTIONS),
        }
        response = await self.request("fork", "POST", "/api/convos/fork", body)
        self._learn_copy(response)
        if response is not None and response.status_code == 404:
            self.forget(cid)

    async def op_duplicate(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        response = await self.request(
            "duplicate", "POST", "/api/convos/duplicate", {"conversationId": cid}
        )
        self._learn_copy(response)

    def _learn_copy(self, response: httpx.Response | None) -> None:
        if response is not None and response.status_code in (200, 201):
            copy = response.json()
            self.state.conversations[copy["conversation"]["conversationId"]] = [
                m["messageId"] for m in copy["messages"]
            ]

    async def op_graphql_fork(self) -> None:
        known = [cid for cid, ids in self.state.conversations.items() if ids]
        if not known:
            return await self.op_graphql_messages()
        cid = self.rng.choice(known)
        variables = {"c": cid, "m": self.rng.choice(self.state.conversations[cid])}
        data = await self.graphql("graphql_fork", FORK_MUTATION, variables)
        if data is not None and data.get("forkConversation"):
            copy = data["forkConversation"]
            self.state.conversations[copy["conversation"]["conversationId"]] = [
                m["messageId"] for m in copy["messages"]
            ]

    async def op_import(self) -> None:
        files = {"file": ("export.json", IMPORT_FILE.read_bytes(), "application/json")}
        await self.request("import", "POST", "/api/convos/import", files=files)

    async def op_delete(self) -> None:
        # Keep a few conversations per user so the other operations have work.
        if len(self.state.conversations) < 4:
            return await self.op_duplicate()
        cid = self.pick()
        assert cid is not None
        response = await self.request(
            "delete", "DELETE", "/api/convos", {"arg": {"conversationId": cid}}
        )
        if response is not None and response.status_code in (201, 404):
            self.forget(cid)

    async def op_graphql_page(self) -> None:
        if self.cursor is None:
            self.archived = self.rng.random() < 0.2
        data = await self.graphql(
            "graphql_page", PAGE_QUERY, {"after": self.cursor, "archived": self.archived}
        )
        if data is None:
            self.cursor = None
            return
        page = data["conversations"]
        for edge in page["edges"]:
            node = edge["node"]
            self.state.conversations[node["conversationId"]] = [
                m["messageId"] for m in node["messages"]
            ]
        info = page["pageInfo"]
        self.cursor = info["endCursor"] if info["hasNextPage"] else None

    async def op_graphql_messages(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        data = await self.graphql("graphql_messages", MESSAGES_QUERY, {"c": cid})
        if data is not None and cid in self.state.conversations:
            messages = data["conversation"]["messages"]
            self.state.conversations[cid] = [m["messageId"] for m in messages]

    async def op_graphql_set_tags(self) -> None:
        cid = self.pick()
        if cid is None:
            return await self.op_list()
        tags = self.rng.sample(TAG_NAMES, self.rng.randrange(0, 3))
        await self.graphql("graphql_set_tags", SET_TAGS_MUTATION, {"c": cid, "t": tags})


async def seed_users(
    database: Database, users: Iterable[str], *, conversations: int = 8, messages: int = 4
) -> int:
    """Give each user ``conversations`` conversations of ``messages`` messages
    (a linear thread); returns how many conversations were written."""
    written = 0
    for user in users:
        for n in range(conversations):
            doc = await insert_conversation(database, user, title=f"seed {n}")
            await insert_thread(
                database, user, doc["conversationId"], [f"m{i}" for i in range(messages)]
            )
            written += 1
    return written
