"""CPU per request of the gateway against a floor doing the same database work.

    python -m bench.requests [--requests N] [--reps R] [--quick] [--clock schedstat|stat]
                             [--tracing]

``--tracing`` runs the gateway with OpenTelemetry on (spans batched and
dropped at export, see ``bench.servers``); compare with a run without it.

What it does (see bench/README.md for how to read the figures):

1. starts an embedded SecantusDB (its own process) and seeds 1,000
   LibreChat-shaped conversations for one user (4 messages and 2 tags each),
   plus another user's 100 so filters have something to exclude;
2. starts the gateway (``bench.servers gateway``) and the floor
   (``bench.servers floor``: the same MongoDB commands in a bare Starlette app)
   as two uvicorn processes;
3. for each case, drives N sequential keep-alive requests at each server
   after a warm-up, reading the server process's CPU time before and after;
   repeats R times, interleaving gateway and floor (order alternating), and
   reports the median of the per-repetition ratios gateway/floor.

Only the servers' CPU is measured, never wall-clock time: the database and
this client run in other processes, so their speed does not enter the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.servers import check_floor_matches_gateway
from storage.database import connect
from storage.embedded import EmbeddedServer, free_port
from storage.indexes import ensure_indexes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DB_NAME = "LibreChat"
USER = "6b0a7813319bf155c7d48351"
OTHER_USER = "6b0a7813319bf155c7d48357"
SECRET = "bench-secret-0123456789-0123456789-0123456789"
N_CONVERSATIONS = 1000
MESSAGES_PER_CONVERSATION = 4
TAGS = ["work", "personal", "research", "travel", "code", "ideas", "reading", "health"]
NO_PARENT = "00000000-0000-0000-0000-000000000000"
BASE_TIME = datetime(2024, 1, 15, 10, 0, 0)

SUMMARY_FIELDS = """conversationId title endpoint endpointType model modelLabel iconURL
  agentId assistantId spec isArchived archivedAt pinned tagNames createdAt updatedAt"""
GRAPHQL_PAGE = (
    "query Page { conversations(first: 25) { totalCount pageInfo { hasNextPage endCursor } "
    f"edges {{ node {{ {SUMMARY_FIELDS} }} }} }} }}"
)
GRAPHQL_DEEP = (
    "query Deep { conversations(first: 25) { totalCount pageInfo { hasNextPage endCursor } "
    f"edges {{ node {{ {SUMMARY_FIELDS} "
    "tags { tag description count position } "
    "messages { messageId parentMessageId sender text isCreatedByUser model createdAt "
    "children { messageId } } } } } }"
)
# The issue's targets: CPU per request at most this many times the floor's.
TARGETS = {"rest-list": 1.3, "rest-get": 1.3, "graphql-page": 2.0, "graphql-deep": None}


# --- seeding ----------------------------------------------------------------


def _conversation(user: str, i: int, message_ids: list[ObjectId]) -> dict[str, Any]:
    at = BASE_TIME + timedelta(minutes=i)
    return {
        "_id": ObjectId(),
        "conversationId": str(uuid.uuid4()),
        "user": user,
        "title": f"Conversation {i}: planning the quarterly review",
        "endpoint": "openAI",
        "model": "gpt-4o",
        "chatGptLabel": None,
        "promptPrefix": None,
        "temperature": 0.7,
        "top_p": 1,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "resendFiles": True,
        "imageDetail": "auto",
        "isArchived": False,
        "tags": [TAGS[i % len(TAGS)], TAGS[(i + 3) % len(TAGS)]],
        "messages": message_ids,
        "files": [],
        "createdAt": at,
        "updatedAt": at + timedelta(seconds=30),
        "__v": 0,
    }


def _messages(user: str, conversation_id: str, i: int) -> list[dict[str, Any]]:
    at = BASE_TIME + timedelta(minutes=i)
    docs: list[dict[str, Any]] = []
    parent = NO_PARENT
    for j in range(MESSAGES_PER_CONVERSATION):
        mine = j % 2 == 0
        text = (
            "Could you help me outline the review for next week? " * 2
            if mine
            else "Sure. Here is an outline with the main points to cover, in order. " * 8
        )
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "messageId": str(uuid.uuid4()),
            "conversationId": conversation_id,
            "user": user,
            "parentMessageId": parent,
            "sender": "User" if mine else "GPT-4o",
            "text": text,
            "isCreatedByUser": mine,
            "model": None if mine else "gpt-4o",
            "endpoint": "openAI",
            "error": False,
            "unfinished": False,
            "tokenCount": 25 if mine else 120,
            "createdAt": at + timedelta(seconds=j),
            "updatedAt": at + timedelta(seconds=j),
            "__v": 0,
        }
        if not mine:
            doc["content"] = [{"type": "text", "text": text}]
        docs.append(doc)
        parent = doc["messageId"]
    return docs


def seed(uri: str) -> str:
    """Write the data set; return one conversation id for the get-by-id case."""
    database = connect(uri, db_name=DB_NAME)

    async def indexes() -> None:
        try:
            await ensure_indexes(database)
        finally:
            await database.close()

    asyncio.run(indexes())
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        db = client[DB_NAME]
        for user, n in ((USER, N_CONVERSATIONS), (OTHER_USER, 100)):
            conversations, messages = [], []
            for i in range(n):
                cid = str(uuid.uuid4())
                thread = _messages(user, cid, i)
                doc = _conversation(user, i, [m["_id"] for m in thread])
                doc["conversationId"] = cid
                conversations.append(doc)
                messages.extend(thread)
            db["conversations"].insert_many(conversations)
            db["messages"].insert_many(messages)
            db["conversationtags"].insert_many(
                [
                    {
                        "tag": t,
                        "user": user,
                        "description": f"About {t}",
                        "count": sum(t in c["tags"] for c in conversations),
                        "position": p,
                        "createdAt": BASE_TIME,
                        "updatedAt": BASE_TIME,
                        "__v": 0,
                    }
                    for p, t in enumerate(TAGS)
                ]
            )
        middle = db["conversations"].find_one({"user": USER}, skip=N_CONVERSATIONS // 2)
        assert middle is not None
        return str(middle["conversationId"])
    finally:
        client.close()


# --- the server processes ---------------------------------------------------


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int, clock: str) -> int:
    """CPU time (user + system, all threads) the process has used, in ns.

    ``schedstat`` (default) is the kernel's nanosecond run time summed over
    the process's threads; ``stat`` is utime+stime in clock ticks (10 ms at
    100 Hz), the same quantity at a coarser grain.
    """
    if clock == "schedstat":
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        return total
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime); index 0 here is field 3 (state).
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1_000_000_000 // clock_ticks()


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


def start_server(
    kind: str, uri: str, log_dir: Path, profile: Path | None = None, *, tracing: bool = False
) -> Server:
    port = free_port()
    extra = ["--profile", str(profile)] if profile is not None else []
    if tracing:
        extra.append("--tracing")
    log = (log_dir / f"{kind}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.servers",
            kind,
            "--port",
            str(port),
            "--mongo-uri",
            uri,
            "--db",
            DB_NAME,
            "--user",
            USER,
            "--secret",
            SECRET,
            *extra,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    server = Server(kind, process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited early; see {log_dir / (kind + '.log')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base_url + "/health", timeout=1).status_code == 200:
                return server
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} did not answer within 60 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --- cases and measurement --------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    gateway: Call
    floor: Call


def cases(conversation_id: str, only: list[str] | None = None) -> list[Case]:
    every = [
        Case(
            "rest-list",
            "GET /api/convos?limit=25 (page + count)",
            Call("GET", "/api/convos?limit=25"),
            Call("GET", "/api/convos"),
        ),
        Case(
            "rest-get",
            "GET /api/convos/:id",
            Call("GET", f"/api/convos/{conversation_id}"),
            Call("GET", f"/api/convos/{conversation_id}"),
        ),
        Case(
            "graphql-page",
            "GraphQL page of 25, summary fields + totalCount",
            Call("POST", "/graphql", {"query": GRAPHQL_PAGE}),
            Call("GET", "/floor/graphql-page"),
        ),
        Case(
            "graphql-deep",
            "GraphQL page of 25 + totalCount, messages and tags",
            Call("POST", "/graphql", {"query": GRAPHQL_DEEP}),
            Call("GET", "/floor/graphql-deep"),
        ),
    ]
    return [c for c in every if not only or c.name in only]


def _send(client: httpx.Client, call: Call) -> httpx.Response:
    response = client.request(call.method, call.path, json=call.body)
    if response.status_code != 200:
        raise RuntimeError(f"{call.method} {call.path} -> {response.status_code}: {response.text}")
    if call.body is not None and "errors" in response.json():
        raise RuntimeError(f"GraphQL errors: {response.text[:500]}")
    return response


def measure(client: httpx.Client, server: Server, call: Call, n: int, clock: str) -> float:
    """CPU µs per request of ``server`` over ``n`` sequential requests."""
    before = cpu_ns(server.pid, clock)
    for _ in range(n):
        _send(client, call)
    # Let the server finish what follows the last response (keep-alive
    # bookkeeping) so it is counted here and not in the next measurement.
    time.sleep(0.02)
    after = cpu_ns(server.pid, clock)
    return (after - before) / n / 1000


@dataclass
class CaseResult:
    name: str
    description: str
    target: float | None
    gateway_us: list[float] = field(default_factory=list)
    floor_us: list[float] = field(default_factory=list)
    gateway_bytes: int = 0
    floor_bytes: int = 0

    @property
    def ratios(self) -> list[float]:
        return [g / f for g, f in zip(self.gateway_us, self.floor_us, strict=True)]

    def summary(self) -> dict[str, Any]:
        ratio = statistics.median(self.ratios)
        return {
            **asdict(self),
            "ratios": self.ratios,
            "gateway_us_median": statistics.median(self.gateway_us),
            "floor_us_median": statistics.median(self.floor_us),
            "ratio_median": ratio,
            "meets_target": None if self.target is None else ratio <= self.target,
        }


@contextlib.contextmanager
def clients(servers: list[Server]) -> Iterator[dict[str, httpx.Client]]:
    headers = {"Authorization": f"Bearer {_token()}"}
    opened = {
        s.name: httpx.Client(base_url=s.base_url, headers=headers, timeout=30) for s in servers
    }
    try:
        yield opened
    finally:
        for c in opened.values():
            c.close()


def _token() -> str:
    from app.auth import issue_token

    return issue_token(SECRET, USER, 24 * 3600)


def run(args: argparse.Namespace) -> dict[str, Any]:
    check_floor_matches_gateway(USER)
    n, reps, warmup = args.requests, args.reps, args.warmup
    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    embedded = EmbeddedServer(":memory:", log_path=log_dir / "secantusd.log")
    embedded.start()
    servers: list[Server] = []
    try:
        t0 = time.monotonic()
        conversation_id = seed(embedded.uri)
        print(f"seeded {N_CONVERSATIONS} conversations in {time.monotonic() - t0:.1f} s")
        servers = [
            start_server(
                "gateway", embedded.uri, log_dir, args.profile_gateway, tracing=args.tracing
            ),
            start_server("floor", embedded.uri, log_dir),
        ]
        gateway, floor = servers
        results = [
            CaseResult(c.name, c.description, TARGETS[c.name])
            for c in cases(conversation_id, args.cases)
        ]
        with clients(servers) as http:
            for case, result in zip(cases(conversation_id, args.cases), results, strict=True):
                for _ in range(warmup):
                    result.gateway_bytes = len(_send(http["gateway"], case.gateway).content)
                    result.floor_bytes = len(_send(http["floor"], case.floor).content)
            for rep in range(reps):
                for case, result in zip(cases(conversation_id, args.cases), results, strict=True):
                    order = [(gateway, case.gateway), (floor, case.floor)]
                    if rep % 2:
                        order.reverse()
                    for server, call in order:
                        us = measure(http[server.name], server, call, n, args.clock)
                        (result.gateway_us if server is gateway else result.floor_us).append(us)
                print(f"rep {rep + 1}/{reps} done", flush=True)
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "requests_per_measurement": n,
            "reps": reps,
            "clock": args.clock,
            "tracing": args.tracing,
            "cpu_count": os.cpu_count(),
            "git": _git_head(),
            "cases": [r.summary() for r in results],
        }
    finally:
        for server in servers:
            stop_server(server)
        embedded.stop()


def _git_head() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return "unknown"


def print_table(report: dict[str, Any]) -> None:
    print()
    print(
        f"CPU per request, median of {report['reps']} interleaved runs of "
        f"{report['requests_per_measurement']} requests ({report['clock']} clock)"
        + (", gateway tracing on" if report.get("tracing") else "")
    )
    header = (
        f"{'case':<14} {'gateway µs':>11} {'floor µs':>9} {'ratio':>6} "
        f"{'(min-max)':>11} {'target':>7}  {'bytes gw/floor':>15}"
    )
    print(header)
    print("-" * len(header))
    for c in report["cases"]:
        target = "-" if c["target"] is None else f"≤{c['target']:.1f}"
        mark = "" if c["meets_target"] is None else (" ok" if c["meets_target"] else " MISS")
        spread = f"{min(c['ratios']):.2f}-{max(c['ratios']):.2f}"
        print(
            f"{c['name']:<14} {c['gateway_us_median']:>11.0f} {c['floor_us_median']:>9.0f} "
            f"{c['ratio_median']:>6.2f} {spread:>11} {target:>7}{mark:<5} "
            f"{c['gateway_bytes']:>7}/{c['floor_bytes']:<7}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="CPU per request: gateway vs a floor doing the same database work."
    )
    parser.add_argument("--requests", type=int, default=150, help="requests per measurement")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions per case")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up requests per case")
    parser.add_argument("--quick", action="store_true", help="60 requests, 3 reps, 15 warm-up")
    parser.add_argument("--clock", choices=["schedstat", "stat"], default="schedstat")
    parser.add_argument(
        "--cases", type=lambda v: v.split(","), help="comma-separated case names (default: all)"
    )
    parser.add_argument(
        "--profile-gateway",
        type=Path,
        help="run the gateway under cProfile and write its stats here (ratios then mean little)",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="run the gateway with OpenTelemetry tracing on (spans batched, then dropped)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.reps, args.warmup = 60, 3, 15
    report = run(args)
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"requests-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
